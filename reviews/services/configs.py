"""Writes for what a run is configured with: the built-in prompt templates (the default among them),
the default model configuration, the released DeepSeek-GRM presets, and model configurations named
after their settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from reviews.models import ModelConfig, PromptTemplate
from workers.grm.templates import BUILT_IN_TEMPLATES, BuiltInTemplate


def defaults_ensure() -> tuple[PromptTemplate, ModelConfig]:
    """The default prompt template (GRM_SPEC section 2) and the default model configuration (the
    transformers backend with GRM_MODEL)."""
    templates_ensure()
    template = PromptTemplate.objects.get(is_default=True)
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


def _template_row(built_in: BuiltInTemplate, latest: PromptTemplate | None) -> PromptTemplate:
    """The built-in's row: the latest version when its text and range are current, else a new version
    (versions are never edited in place: runs keep the text they were judged with)."""
    current = (built_in.text, built_in.score_low, built_in.score_high, built_in.single_response)
    if latest is not None and (latest.text, latest.score_low, latest.score_high, latest.single_response) == current:
        return latest
    template, _ = PromptTemplate.objects.get_or_create(
        name=built_in.name,
        version=(latest.version + 1) if latest is not None else 1,
        defaults={
            "text": built_in.text,
            "description": built_in.description,
            "score_low": built_in.score_low,
            "score_high": built_in.score_high,
            "single_response": built_in.single_response,
        },
    )
    return template


@transaction.atomic
def templates_ensure() -> None:
    """Each built-in template (the paper's default, its adapted wording, the single-response one) at
    its current text, and a default: the paper's, unless an admin chose another."""
    latest: dict[str, PromptTemplate] = {}
    for template in PromptTemplate.objects.filter(name__in=[b.name for b in BUILT_IN_TEMPLATES]).order_by("version"):
        latest[template.name] = template
    rows = {built_in.name: _template_row(built_in, latest.get(built_in.name)) for built_in in BUILT_IN_TEMPLATES}
    default = PromptTemplate.objects.filter(is_default=True).first()
    paper = rows[BUILT_IN_TEMPLATES[0].name]
    # An older version of a built-in gives way to the current one; a template an admin made default stays.
    if default is None or (default.name in rows and default.pk != rows[default.name].pk):
        successor = paper if default is None else rows[default.name]
        PromptTemplate.objects.filter(is_default=True).update(is_default=False)
        PromptTemplate.objects.filter(pk=successor.pk).update(is_default=True)


@dataclass(frozen=True)
class Preset:
    """A released model, ready for a GPU host that reaches the model hub (docs/models.md)."""

    name: str
    backend: str
    model: str
    generation_params: dict[str, object]


# The released DeepSeek-GRM checkpoints (paper section 5; hub organisation BBQGOD). vLLM's engine options
# go in generation_params; the 16B is DeepSeek-V2-Lite based and needs its remote code.
GRM_PRESETS = (
    Preset(
        "deepseek-grm-16b",
        ModelConfig.Backend.VLLM,
        "BBQGOD/DeepSeek-GRM-16B",
        {"trust_remote_code": True, "dtype": "bfloat16", "max_model_len": 8192, "gpu_memory_utilization": 0.9},
    ),
    Preset(
        "deepseek-grm-27b",
        ModelConfig.Backend.VLLM,
        "BBQGOD/DeepSeek-GRM-27B",
        {"dtype": "bfloat16", "max_model_len": 8192, "gpu_memory_utilization": 0.9},
    ),
)


def presets_ensure() -> list[ModelConfig]:
    """The GRM presets as model configurations (created once; an admin's later edits are kept)."""
    return [
        ModelConfig.objects.get_or_create(
            name=preset.name,
            defaults={"backend": preset.backend, "model": preset.model, "generation_params": preset.generation_params},
        )[0]
        for preset in GRM_PRESETS
    ]


def model_window_record(*, run_id: int, window: int | None) -> None:
    """Keep the context window a worker found for the run's model (the run form's estimate reads it)."""
    if window is not None:
        configs = ModelConfig.objects.filter(runs__id=run_id).exclude(context_window=window)
        ModelConfig.objects.filter(pk__in=list(configs.values_list("pk", flat=True))).update(context_window=window)
