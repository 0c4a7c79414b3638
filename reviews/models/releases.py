"""Releases: immutable exports of curated training data."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from reviews.models.runs import Round


class Release(models.Model):
    """An immutable export of curated training data: what was filtered, counted and hashed."""

    class Kind(models.TextChoices):
        RFT_ACCEPTED = "rft_accepted", "accepted trajectories (RFT)"
        REJECTED = "rejected", "rejected trajectories"
        METARM_LABELS = "metarm_labels", "meta-RM labels"
        RL_PROMPTS = "rl_prompts", "RL prompts with labels"
        PREFERENCE_PAIRS = "preference_pairs", "preference pairs"

    class Format(models.TextChoices):
        JSONL = "jsonl", "JSON Lines"
        TRL = "trl", "TRL"
        OPENRLHF = "openrlhf", "OpenRLHF"

    name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=30, choices=Kind.choices)
    format = models.CharField(max_length=20, choices=Format.choices, default=Format.JSONL)
    rft_round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.PROTECT, related_name="releases")
    filters = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to="releases/")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="releases"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="release_unique_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
