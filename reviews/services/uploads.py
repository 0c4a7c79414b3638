"""Uploads through the API: the web process streams the body to disk, a cpu-queue task ingests it.

Ingestion is `services.datasets.dataset_import`, the importer command's code path. An upload's body waits in
GRM_UPLOAD_DIR (shared by web and workers) and is deleted once ingested.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from reviews import enqueue, upload_files
from reviews.errors import StorageFull, StorageUnavailable, UploadRefused, UploadTooLarge
from reviews.locks import try_lock
from reviews.models import Dataset, Upload, UploadError
from reviews.services.datasets import ImportProgress, ImportRefused, ImportReport, dataset_import, dataset_prerender

logger = logging.getLogger(__name__)

RECEIVE_CHUNK = 1 << 20
# What the operating system says when the folder has no room left for the body.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# A received body not recorded as an upload (its web process was killed mid-body) is removed after this.
ORPHAN_AFTER = timedelta(hours=1)


def too_large_message(size: int) -> str:
    cap = settings.GRM_UPLOAD_MAX_BYTES
    return f"the upload is {size:,} bytes or more, over the cap of {cap:,} bytes (GRM_UPLOAD_MAX_BYTES)"


def body_path(upload: Upload) -> Path:
    return upload_files.body_path(upload.pk)


def _incoming_path() -> Path:
    directory = Path(settings.GRM_UPLOAD_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"incoming-{uuid.uuid4().hex}.part"


def storage_error(exc: OSError) -> StorageUnavailable:
    """The domain's error for a body the upload folder could not take: the cause in words, and that
    nothing was stored (the full error, with the folder's path, goes to the log for the admin)."""
    logger.error("upload folder %s: %s", settings.GRM_UPLOAD_DIR, exc)
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _NO_ROOM:
        return StorageFull(
            f"the server has no room left to store the upload ({reason}); nothing was stored: "
            "send it again once an admin has freed space in the upload folder (GRM_UPLOAD_DIR)"
        )
    return StorageUnavailable(
        f"the server could not write the upload to its upload folder ({reason}); nothing was stored: "
        "send it again once an admin has fixed the folder (GRM_UPLOAD_DIR)"
    )


def _discard(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):  # the folder may be the very thing that is broken
            path.unlink(missing_ok=True)


def receive_stream(read: Callable[[int], bytes], content_length: int | None) -> Path:
    """Copy a request body to a new file in GRM_UPLOAD_DIR, a chunk at a time; never all in memory.

    Refused (and the partial file removed) when the body is empty, passes GRM_UPLOAD_MAX_BYTES, or
    ends before its Content-Length (the client's connection dropped).
    """
    cap = settings.GRM_UPLOAD_MAX_BYTES
    if content_length is not None and content_length > cap:
        raise UploadTooLarge(too_large_message(content_length))
    path: Path | None = None
    received = 0
    try:
        path = _incoming_path()
        with path.open("wb") as out:
            while True:
                try:
                    chunk = read(RECEIVE_CHUNK)
                except Exception as exc:  # the server's error for a broken connection varies
                    logger.warning("upload body unreadable after %d bytes: %s", received, exc)
                    chunk = b""
                if not chunk:
                    break
                received += len(chunk)
                if received > cap:
                    raise UploadTooLarge(too_large_message(received))
                out.write(chunk)
        if content_length is not None and received < content_length:
            logger.warning("upload connection closed after %d of %d bytes", received, content_length)
            raise UploadRefused(
                f"the connection closed after {received:,} of {content_length:,} bytes; nothing was stored"
            )
        if received == 0:
            raise UploadRefused(
                "the body is empty: send JSON Lines, a JSON array, or a multipart form with the file in `file`"
            )
    except OSError as exc:  # the folder is full or cannot be written (reading errors are handled above)
        _discard(path)
        raise storage_error(exc) from exc
    except BaseException:
        _discard(path)
        raise
    return path


def receive_file(file: IO[bytes], size: int) -> Path:
    """Move a multipart file (already on disk when large) into GRM_UPLOAD_DIR."""
    if size > settings.GRM_UPLOAD_MAX_BYTES:
        raise UploadTooLarge(too_large_message(size))
    if size == 0:
        raise UploadRefused("the file is empty")
    path: Path | None = None
    temporary = getattr(file, "temporary_file_path", None)
    try:
        path = _incoming_path()
        if temporary is not None:
            shutil.move(temporary(), path)
        else:
            with path.open("wb") as out:
                shutil.copyfileobj(file, out, RECEIVE_CHUNK)
    except OSError as exc:
        _discard(path)
        raise storage_error(exc) from exc
    except BaseException:
        _discard(path)
        raise
    return path


def upload_create(
    *,
    received: Path,
    dataset_name: str,
    fmt: str,
    field_map: dict[str, str],
    subset: str,
    partial: bool,
    filename: str,
    created_by: User | None,
) -> Upload:
    """Record a received body and queue its ingestion (after the commit, so the task finds the row)."""
    try:
        with transaction.atomic():
            upload = Upload.objects.create(
                dataset_name=dataset_name,
                format=fmt,
                field_map=field_map,
                subset=subset,
                partial=partial,
                filename=filename[:255],
                size_bytes=received.stat().st_size,
                created_by=created_by,
            )
            os.replace(received, body_path(upload))
            # robust: a broker that is down leaves the upload queued for the watchdog, not a 500.
            enqueue.on_commit(enqueue.INGEST_UPLOAD, upload.pk, robust=True)
    except OSError as exc:  # the row is rolled back with the body
        _discard(received)
        raise storage_error(exc) from exc
    except BaseException:
        _discard(received)
        raise
    return upload


def upload_ingest(upload_id: int) -> Upload | None:
    """Ingest a received upload and record the outcome. Idempotent: an ended upload is left alone,
    one being ingested by a live worker too, and one whose worker died (the import rolled back)
    starts again."""
    # PostgreSQL: a session lock per upload, so two copies of its task never ingest it at once.
    with try_lock(f"grm-upload:{upload_id}") as ours:
        if not ours:
            return Upload.objects.filter(pk=upload_id).first()  # another worker holds it right now
        return _ingest(upload_id)


def _ingest(upload_id: int) -> Upload | None:
    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None or upload.status in Upload.ENDED:
            return upload
        upload.status = Upload.Status.INGESTING
        upload.started_at = timezone.now()
        upload.save(update_fields=["status", "started_at"])
    path = body_path(upload)
    if not path.exists():
        return _finish(upload, Upload.Status.FAILED, "the received file is gone from GRM_UPLOAD_DIR", None)
    progress_file = upload_files.ProgressFile(upload.pk)

    def progress(done: ImportProgress) -> None:
        progress_file(done, final=done.written)

    try:
        with path.open("rb") as stream:
            report = dataset_import(
                dataset_name=upload.dataset_name,
                stream=stream,
                fmt=upload.format,
                field_map=upload.field_map or None,
                subset=upload.subset,
                partial=upload.partial,
                created_by=upload.created_by,
                source=upload.filename or f"upload {upload.pk}",
                max_items=settings.GRM_UPLOAD_MAX_ITEMS,
                progress=progress,
            )
    except ImportRefused as refused:
        report = refused.report
        message = f"{report.error_count:,} bad line(s); nothing was stored"
        if not upload.partial:
            message += " (all or nothing: send ?partial=true to store the good lines)"
        return _finish(upload, Upload.Status.REJECTED, message, report, path)
    except Exception as exc:
        logger.exception("upload %s failed", upload.pk)
        connection.close_if_unusable_or_obsolete()
        return _finish(upload, Upload.Status.FAILED, f"ingestion failed: {exc}", None, path)
    status = Upload.Status.PARTIAL if report.error_count else Upload.Status.DONE
    message = f"{report.created:,} new, {report.unchanged:,} unchanged"
    if report.error_count:
        message += f", {report.error_count:,} bad line(s) skipped"
    upload = _finish(upload, status, message, report, path)
    if upload.dataset is not None and report.created:
        try:  # after the upload is done: its pages render on first view if this does not finish
            dataset_prerender(dataset=upload.dataset, since=upload.started_at)
        except Exception:
            logger.exception("upload %s: rendering its texts ahead of the pages failed", upload.pk)
    return upload


def _finish(upload: Upload, status: str, message: str, report: ImportReport | None, path: Path | None = None) -> Upload:
    with transaction.atomic():
        upload.status = status
        upload.message = message
        upload.finished_at = timezone.now()
        if report is not None:
            upload.items = report.items
            upload.created = report.created
            upload.unchanged = report.unchanged
            upload.error_count = report.error_count
            upload.dataset = Dataset.objects.filter(name=upload.dataset_name).first()
            UploadError.objects.filter(upload=upload).delete()
            UploadError.objects.bulk_create(
                [
                    UploadError(upload=upload, line=e.line, field=e.field[:200], message=e.message)
                    for e in report.errors
                ],
                batch_size=1000,
            )
        upload.save()
    if path is not None:
        path.unlink(missing_ok=True)
    upload_files.ProgressFile(upload.pk).remove()
    return upload


def _stalled_before() -> Any:
    return timezone.now() - timedelta(seconds=settings.GRM_RUN_STALL_SECONDS)


def uploads_resume_stalled() -> list[int]:
    """Queue again the uploads whose task never came (broker down, embedded broker after a crash)
    or whose worker died mid-ingestion (the import rolled back): queued, or ingesting, for longer
    than GRM_RUN_STALL_SECONDS. Ingestion is idempotent, so a late original does no harm."""
    before = _stalled_before()
    stalled = list(
        Upload.objects.filter(status=Upload.Status.QUEUED, created_at__lt=before).values_list("pk", flat=True)
    ) + list(Upload.objects.filter(status=Upload.Status.INGESTING, started_at__lt=before).values_list("pk", flat=True))
    for upload_id in stalled:
        enqueue.send(enqueue.INGEST_UPLOAD, upload_id)
    return stalled


def uploads_sweep_orphans(*, older_than: timedelta = ORPHAN_AFTER) -> list[str]:
    """Remove what a web process killed mid-body left in GRM_UPLOAD_DIR: received files never recorded as
    an upload (`incoming-*.part`, untouched for `older_than`), and bodies whose upload is gone or ended.
    A body waiting for its ingestion is never touched. Returns the names removed."""
    directory = Path(settings.GRM_UPLOAD_DIR)
    if not directory.is_dir():
        return []
    cutoff = timezone.now().timestamp() - older_than.total_seconds()
    waiting = {
        upload_files.body_path(pk).name
        for pk in Upload.objects.exclude(status__in=Upload.ENDED).values_list("pk", flat=True)
    }
    removed = []
    for path in directory.iterdir():
        try:
            orphan = (path.name.startswith("incoming-") and path.stat().st_mtime < cutoff) or (
                path.suffix == ".body" and path.name not in waiting and path.stat().st_mtime < cutoff
            )
            if orphan:
                path.unlink()
                removed.append(path.name)
        except OSError:  # gone meanwhile, or the folder is not ours to clean
            continue
    if removed:
        logger.info("upload folder: removed %d orphaned file(s): %s", len(removed), ", ".join(sorted(removed)[:20]))
    return removed
