"""Writes for annotations: a reviewer's decision on a sample or a query (the API and the review
queues both store through `annotation_submit`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from reviews.errors import AnnotationInvalid
from reviews.models import Annotation, FailureMode, Query, Response, Sample
from reviews.services.decisions import DECISION_FIELDS, decisions_decide


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
    """Store a reviewer's decision on a sample or a query; submitting again updates the same annotation.

    Only `sample.pk` and `sample.query_id` (or `query.pk`) are read: a caller holding ids passes
    `Sample(pk=..., query_id=...)`. The target's row is locked first, so one reviewer's submissions on
    a target take turns (the lookup and the insert below need no savepoint) and each decision on a
    sample sees the other reviewers' verdicts."""
    if (sample is None) == (query is None):
        raise AnnotationInvalid("target", "give exactly one of sample and query")
    if decision not in Annotation.Decision.values:
        raise AnnotationInvalid("decision", f"must be one of {', '.join(Annotation.Decision.values)}")
    if corrected_scores is not None:
        query_id = sample.query_id if sample is not None else query.pk  # type: ignore[union-attr]
        responses = Response.objects.filter(query_id=query_id).count()
        if len(corrected_scores) != responses or not all(1 <= score <= 10 for score in corrected_scores):
            raise AnnotationInvalid(
                "corrected_scores", f"give {responses} integers from 1 to 10, one per response in original order"
            )
    # Refusals above are raised before the transaction: without a savepoint, an exception inside it marks
    # a caller's transaction for rollback (queue_submit's, a test's).
    with transaction.atomic(savepoint=False):
        return _store(
            reviewer=reviewer,
            sample=sample,
            query=query,
            values={
                "decision": decision,
                "note": note,
                "corrected_scores": corrected_scores,
                "time_spent_ms": max(0, time_spent_ms),
            },
            modes=list(failure_modes),
        )


def _store(
    *, reviewer: User, sample: Sample | None, query: Query | None, values: dict[str, Any], modes: list[FailureMode]
) -> Annotation:
    locked: Sample | None = None
    if sample is not None:
        decided = Sample.objects.only("id", "run_id", "query_id", "rule_reason", *DECISION_FIELDS)
        locked = decided.select_for_update().get(pk=sample.pk)
        target = Q(sample_id=sample.pk)
    else:
        Query.objects.select_for_update().filter(pk=query.pk).values_list("pk").first()  # type: ignore[union-attr]
        target = Q(query_id=query.pk, sample__isnull=True)  # type: ignore[union-attr]
    annotation = Annotation.objects.filter(target, reviewer=reviewer).first()
    if annotation is None:
        annotation = Annotation.objects.create(reviewer=reviewer, sample=sample, query=query, **values)
        if modes:
            annotation.failure_modes.add(*modes)
    else:
        for name, value in values.items():
            setattr(annotation, name, value)
        annotation.save()
        annotation.failure_modes.set(modes)
    if locked is not None:
        decisions_decide(samples=[locked])
    return annotation
