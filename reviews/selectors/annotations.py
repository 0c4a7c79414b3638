"""Reads for annotations: as the API lists them, and a reviewer's own (the "my annotations" page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from reviews.models import Annotation


def annotations_list(*, reviewer: str = "", filters: dict[str, Any] | None = None) -> QuerySet[Annotation]:
    """Annotations with their reviewer and failure modes, by reviewer (username), sample, query, decision."""
    annotations = Annotation.objects.select_related("reviewer").prefetch_related("failure_modes")
    if reviewer:
        annotations = annotations.filter(reviewer__username=reviewer)
    return annotations.filter(**(filters or {}))


@dataclass(frozen=True)
class MyAnnotationFilters:
    """What the "my annotations" page narrows to; empty means all of the reviewer's annotations."""

    dataset: str = ""
    run: int | None = None
    decision: str = ""
    failure_mode: str = ""
    text: str = ""  # in the note
    since: date | None = None


def my_annotations(*, reviewer: User, filters: MyAnnotationFilters) -> QuerySet[Annotation]:
    """The reviewer's own annotations, newest change first, with what a row shows in two statements
    (the row joins and the failure modes)."""
    annotations = (
        Annotation.objects.filter(reviewer=reviewer)
        .select_related("sample__run", "sample__query__dataset", "query__dataset")
        .prefetch_related("failure_modes")
        .order_by("-updated_at", "-pk")
    )
    if filters.dataset:
        annotations = annotations.filter(
            Q(sample__query__dataset__name=filters.dataset) | Q(query__dataset__name=filters.dataset)
        )
    if filters.run is not None:
        annotations = annotations.filter(sample__run_id=filters.run)
    if filters.decision:
        annotations = annotations.filter(decision=filters.decision)
    if filters.failure_mode:
        annotations = annotations.filter(failure_modes__code=filters.failure_mode)
    if filters.text:
        annotations = annotations.filter(note__icontains=filters.text)
    if filters.since is not None:
        annotations = annotations.filter(updated_at__date__gte=filters.since)
    return annotations


def my_annotation(*, reviewer: User, annotation_id: int) -> Annotation:
    """One of the reviewer's annotations (DoesNotExist for anyone else's)."""
    return (
        Annotation.objects.select_related("sample__run", "sample__query__dataset", "query__dataset")
        .prefetch_related("failure_modes")
        .get(pk=annotation_id, reviewer=reviewer)
    )
