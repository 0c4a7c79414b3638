"""Reads for uploads: the API's list, the upload page and its progress."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from reviews import upload_files
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


def upload_bad_lines(*, upload: Upload) -> QuerySet[UploadError]:
    """An upload's bad lines, by line."""
    return UploadError.objects.filter(upload=upload)


def upload_for_page(*, upload_id: int) -> Upload:
    """One upload with who sent it and the dataset it filled; Upload.DoesNotExist if none."""
    return Upload.objects.select_related("created_by", "dataset").get(pk=upload_id)


@dataclass(frozen=True)
class UploadProgress:
    """Where an upload stands, in the words and numbers of its page."""

    phase: str
    items: int  # read, good and bad
    created: int  # new queries (kept only if the import commits)
    unchanged: int
    rejected: int
    bytes_read: int
    size_bytes: int

    @property
    def percent(self) -> int:
        if not self.size_bytes:
            return 0
        return min(100, self.bytes_read * 100 // self.size_bytes)


def upload_progress(upload: Upload) -> UploadProgress:
    """The upload's progress: the final counts once it has ended, else what its worker last wrote."""
    if upload.status in Upload.ENDED:
        read_all = upload.size_bytes if upload.status != Upload.Status.FAILED else 0
        return UploadProgress(
            upload.get_status_display(),
            upload.items,
            upload.created,
            upload.unchanged,
            upload.error_count,
            read_all,
            upload.size_bytes,
        )
    values = upload_files.read_progress(upload.pk) if upload.status == Upload.Status.INGESTING else None
    if values is None:
        phase = "waiting for a worker" if upload.status == Upload.Status.QUEUED else "reading the file"
        return UploadProgress(phase, 0, 0, 0, 0, 0, upload.size_bytes)
    phase = "storing and committing" if values.get("written") else "reading and storing"
    return UploadProgress(
        phase,
        int(values.get("items", 0)),
        int(values.get("created", 0)),
        int(values.get("unchanged", 0)),
        int(values.get("rejected", 0)),
        int(values.get("bytes_read", 0)),
        upload.size_bytes,
    )
