"""Reads for annotations, as the API lists them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from reviews.models import Annotation


def annotations_list(*, reviewer: str = "", filters: dict[str, Any] | None = None) -> QuerySet[Annotation]:
    """Annotations with their reviewer and failure modes, by reviewer (username), sample, query, decision."""
    annotations = Annotation.objects.select_related("reviewer").prefetch_related("failure_modes")
    if reviewer:
        annotations = annotations.filter(reviewer__username=reviewer)
    return annotations.filter(**(filters or {}))
