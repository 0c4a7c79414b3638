"""Uploads received through the API and the bad lines each one reported."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from reviews.models.datasets import Dataset


class Upload(models.Model):
    """A file sent to the upload API: received to disk by the web process, ingested by a cpu task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        INGESTING = "ingesting", "ingesting"
        DONE = "done", "done: every line stored or already there"
        PARTIAL = "partial", "partial: good lines stored, bad lines reported"
        REJECTED = "rejected", "rejected: bad lines, nothing stored"
        FAILED = "failed", "failed: the upload could not be read"

    ENDED = (Status.DONE, Status.PARTIAL, Status.REJECTED, Status.FAILED)

    dataset_name = models.CharField(max_length=100, help_text="The dataset to fill (created if missing).")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="uploads")
    format = models.CharField(max_length=20)
    field_map = models.JSONField(default=dict, blank=True, help_text="The file's field names renamed to the format's.")
    subset = models.CharField(max_length=100, blank=True, help_text="Subset for records that name none.")
    partial = models.BooleanField(default=False, help_text="Store the good lines even if some are bad.")
    filename = models.CharField(max_length=255, blank=True, help_text="The multipart file's name, if any.")
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    items = models.PositiveIntegerField(default=0, help_text="Items read, good and bad.")
    created = models.PositiveIntegerField(default=0, help_text="New queries stored.")
    unchanged = models.PositiveIntegerField(default=0, help_text="Items already stored with the same content.")
    error_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="What happened, in one sentence.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="uploads"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"upload {self.pk} into {self.dataset_name} ({self.status})"

    @property
    def is_ended(self) -> bool:
        return self.status in self.ENDED


class UploadError(models.Model):
    """One problem with one line of an upload (the first MAX_REPORTED_ERRORS are kept)."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="errors")
    line = models.PositiveIntegerField(help_text="1-based line of the file; 0 for the upload as a whole.")
    field = models.CharField(max_length=200, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["upload_id", "line", "id"]
        indexes = [models.Index(fields=["upload", "line"], name="uploaderror_upload_line")]

    def __str__(self) -> str:
        return f"upload {self.upload_id} line {self.line}: {self.message}"
