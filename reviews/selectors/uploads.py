"""Reads for uploads, as the API lists them."""

from __future__ import annotations

from django.db.models import QuerySet

from reviews.models import Upload, UploadError


def uploads_list(*, dataset: str = "", status: str = "") -> QuerySet[Upload]:
    """Uploads with who sent them, optionally into one dataset (by name) or in one status."""
    uploads = Upload.objects.select_related("created_by")
    if dataset:
        uploads = uploads.filter(dataset_name=dataset)
    if status:
        uploads = uploads.filter(status=status)
    return uploads


def upload_errors(*, upload_id: int) -> QuerySet[UploadError] | None:
    """An upload's bad lines; None when there is no such upload."""
    if not Upload.objects.filter(pk=upload_id).exists():
        return None
    return UploadError.objects.filter(upload_id=upload_id)
