"""An upload's files in GRM_UPLOAD_DIR (a folder the web process and the workers share): the received
body, waiting for its ingestion, and the ingestion's progress, which the worker writes as it reads the
file and the upload page polls. The import is one transaction, so its progress cannot live in its
rows; a file works the same with SQLite and PostgreSQL, on one host or several sharing the folder."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 0.5


def body_path(upload_id: int) -> Path:
    return Path(settings.GRM_UPLOAD_DIR) / f"{upload_id}.body"


def progress_path(upload_id: int) -> Path:
    return Path(settings.GRM_UPLOAD_DIR) / f"{upload_id}.progress.json"


class ProgressFile:
    """Writes an ingestion's progress (a dataclass) to its file, at most every PROGRESS_INTERVAL_SECONDS
    unless `final`; each write replaces the file whole, so a reader never sees half of one."""

    def __init__(self, upload_id: int) -> None:
        self.path = progress_path(upload_id)
        self.written_at = 0.0

    def __call__(self, progress: Any, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.written_at < PROGRESS_INTERVAL_SECONDS:
            return
        self.written_at = now
        partial = self.path.with_suffix(".part")
        try:
            partial.write_text(json.dumps(asdict(progress)), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError as exc:  # progress is for the page only: the ingestion goes on without it
            logger.warning("upload progress not written to %s: %s", self.path, exc)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def read_progress(upload_id: int) -> dict[str, int | bool] | None:
    """The progress last written for an upload being ingested, or None (not started, or ended)."""
    try:
        values = json.loads(progress_path(upload_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(values, dict):
        return None
    return {key: value for key, value in values.items() if isinstance(value, int)}  # bools are ints
