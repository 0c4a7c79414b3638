"""Reads for releases, as the API lists them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from reviews.models import Release


def releases_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Release]:
    """Releases with their round and author, filtered by name, kind and format."""
    return Release.objects.select_related("created_by", "rft_round").filter(**(filters or {}))
