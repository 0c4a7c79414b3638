"""Meta reward models: checkpoints trained here from judgments and reviews, or loaded by path or hub
name, that score each sampled judgment so MetaRM@k votes over the ones it trusts most."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class MetaRmCheckpoint(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        TRAINING = "training"
        READY = "ready"
        FAILED = "failed"

    class Source(models.TextChoices):
        TRAINED = "trained", "trained here"
        EXTERNAL = "external", "loaded by path or hub name"

    class Profile(models.TextChoices):
        CPU = "cpu", "cpu (the small default model with a trained head)"
        GPU = "gpu", "gpu (bf16, a larger backbone)"

    name = models.SlugField(max_length=100, unique=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.TRAINED)
    location = models.CharField(
        max_length=500, blank=True, help_text="The checkpoint's folder, or a hub name for an external checkpoint."
    )
    profile = models.CharField(max_length=10, choices=Profile.choices, blank=True)
    base_model = models.CharField(max_length=500, blank=True, help_text="The backbone it was trained from.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="Training progress, 0 to 1.")
    phase = models.CharField(max_length=200, blank=True, help_text="What training is doing now.")
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Validation ROC-AUC, accuracy, calibration error, loss and counts."
    )
    content_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the checkpoint's files.")
    trained_on_runs = models.ManyToManyField("reviews.Run", blank=True, related_name="+")
    trained_on_release = models.ForeignKey(
        "reviews.Release", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    training_examples = models.PositiveIntegerField(default=0, help_text="Judgments it was trained on.")
    seed = models.BigIntegerField(default=0)
    is_active = models.BooleanField(default=False, help_text="The checkpoint runs use unless they name another.")
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "meta RM checkpoint"
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="metarm_one_active"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def progress_percent(self) -> int:
        return round(100 * self.progress)

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY
