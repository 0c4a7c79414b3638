"""Reads for releases, as the API lists them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from reviews.models import Release


def releases_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Release]:
    """Releases with their round and author, filtered by name, kind and status."""
    return Release.objects.select_related("created_by", "rft_round").filter(**(filters or {}))


def release_rows(release: Release, *, split: str | None = None) -> Iterator[dict[str, Any]]:
    """A ready release's rows as its JSON Lines files hold them (train, then validation; or one split)."""
    folder = Path(settings.GRM_RELEASE_DIR) / release.folder
    for file in release.files:
        if file.get("format") != "jsonl" or (split is not None and file.get("split") != split):
            continue
        with (folder / str(file["name"])).open(encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)
