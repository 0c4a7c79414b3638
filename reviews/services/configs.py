"""Writes for what a run is configured with: the default prompt template and model configuration,
and model configurations named after their settings."""

from __future__ import annotations

from django.conf import settings
from django.utils.text import slugify

from reviews.models import ModelConfig, PromptTemplate
from workers.grm.templates import DEFAULT_TEMPLATE


def defaults_ensure() -> tuple[PromptTemplate, ModelConfig]:
    """The default prompt template (GRM_SPEC section 2) and the default model configuration (the
    transformers backend with GRM_MODEL)."""
    template = PromptTemplate.objects.filter(is_default=True).first()
    if template is None:
        template, _ = PromptTemplate.objects.get_or_create(
            name="deepseek-grm-default",
            version=1,
            defaults={
                "text": DEFAULT_TEMPLATE,
                "description": "DeepSeek-GRM default prompt (paper App. G), byte for byte.",
                "is_default": True,
            },
        )
    model = ModelConfig.objects.filter(is_default=True).first()
    if model is None:
        model, _ = ModelConfig.objects.get_or_create(
            name=slugify(settings.GRM_MODEL.rsplit("/", 1)[-1])[:100] or "default",
            defaults={"backend": ModelConfig.Backend.TRANSFORMERS, "model": settings.GRM_MODEL, "is_default": True},
        )
    return template, model


def model_config_for(*, backend: str, model: str, base_url: str = "") -> ModelConfig:
    """The model configuration with these settings, created (named after them) if none exists."""
    existing = ModelConfig.objects.filter(backend=backend, model=model, base_url=base_url).first()
    if existing is not None:
        return existing
    base = slugify(f"{backend}-{model.rsplit('/', 1)[-1]}")[:80] or backend
    name, suffix = base, 1
    while ModelConfig.objects.filter(name=name).exists():
        suffix += 1
        name = f"{base}-{suffix}"
    return ModelConfig.objects.create(name=name, backend=backend, model=model, base_url=base_url)
