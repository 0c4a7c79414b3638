"""Releases: immutable, versioned exports of curated training data (docs/exports.md)."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.conf import settings
from django.db import models

from reviews.models.runs import Round


class Release(models.Model):
    """One build of an export definition (kind, filters, seed, validation share): its files, their
    sha256 and the manifest. Once ready it never changes; building the definition again makes the next
    version of the same name, with byte-identical files when the data has not changed."""

    class Kind(models.TextChoices):
        RFT_SFT = "rft_sft", "accepted trajectories (RFT, SFT)"
        REJECTED = "rejected", "rejected trajectories"
        METARM = "metarm", "meta-RM labels"
        PAIRS = "pairs", "preference pairs"
        RL_PROMPTS = "rl_prompts", "RL prompts with labels"

    class Status(models.TextChoices):
        QUEUED = "queued"
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"

    name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=30, choices=Kind.choices)
    rft_round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.PROTECT, related_name="releases")
    filters = models.JSONField(default=dict, blank=True, help_text="What was selected (docs/exports.md).")
    seed = models.BigIntegerField(default=0, help_text="Seeds the train/validation split by query.")
    validation_fraction = models.FloatField(default=0.1)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(default=0, help_text="Source rows to read (an upper bound).")
    counts = models.JSONField(default=dict, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="sha256 over the data files' names and hashes.")
    folder = models.CharField(max_length=300, blank=True, help_text="Under GRM_RELEASE_DIR.")
    error_message = models.TextField(blank=True)
    build_token = models.CharField(max_length=32, blank=True, help_text="The build attempt that holds it.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="releases"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="release_unique_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        return min(99, int(100 * self.rows_done / self.rows_total)) if self.rows_total else 0

    @property
    def files(self) -> list[dict[str, object]]:
        """The manifest's files: name, split, format, rows, bytes, sha256. One converted from the old
        single-file layout may list only name, sha256 and bytes: it is then the train split, in the format
        its suffix names, with rows None (not known)."""
        return [
            {
                "split": "train",
                "format": PurePosixPath(str(file["name"])).suffix.lstrip(".") or "unknown",
                "rows": None,
                **file,
            }
            for file in self.manifest.get("files", [])
        ]
