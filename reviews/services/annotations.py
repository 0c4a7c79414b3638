"""Writes for annotations: a reviewer's decision on a sample or a query (the API and the review
queues both store through `annotation_submit`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from reviews.errors import AnnotationInvalid
from reviews.models import Annotation, FailureMode, Query, Sample
from reviews.services.decisions import decisions_apply


@transaction.atomic
def annotation_submit(
    *,
    reviewer: User,
    decision: str,
    sample: Sample | None = None,
    query: Query | None = None,
    failure_modes: Iterable[FailureMode] = (),
    note: str = "",
    corrected_scores: list[int] | None = None,
    time_spent_ms: int = 0,
) -> Annotation:
    """Store a reviewer's decision on a sample or a query; submitting again updates the same annotation."""
    if (sample is None) == (query is None):
        raise AnnotationInvalid("target", "give exactly one of sample and query")
    if decision not in Annotation.Decision.values:
        raise AnnotationInvalid("decision", f"must be one of {', '.join(Annotation.Decision.values)}")
    if corrected_scores is not None:
        responses = (sample.query if sample is not None else query).responses.count()  # type: ignore[union-attr]
        if len(corrected_scores) != responses or not all(1 <= score <= 10 for score in corrected_scores):
            raise AnnotationInvalid(
                "corrected_scores", f"give {responses} integers from 1 to 10, one per response in original order"
            )
    if sample is not None:  # reviewers of one sample in turn, so each decision sees the others' verdicts
        Sample.objects.select_for_update().filter(pk=sample.pk).first()
    annotation, _ = Annotation.objects.update_or_create(
        reviewer=reviewer,
        sample=sample,
        query=query,
        defaults={
            "decision": decision,
            "note": note,
            "corrected_scores": corrected_scores,
            "time_spent_ms": max(0, time_spent_ms),
        },
    )
    annotation.failure_modes.set(list(failure_modes))
    if sample is not None:
        decisions_apply(sample_ids=[sample.id])
    return annotation
