"""Reads for the rejective fine-tuning decisions (GRM_SPEC 6, issue 11): the samples held for an admin, and
one sample with what its decision fragment shows."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from reviews.models import Annotation, Sample
from workers.grm.rft import Decision


def held_samples(*, run_id: int | None = None) -> QuerySet[Sample]:
    """Samples whose reviewers disagree and no admin has adjudicated, oldest run first, with their run,
    query and the reviewers' annotations (a constant number of SQL statements for a page of them)."""
    # A held sample has a rejecting annotation: reaching samples through those (few) rows lets the
    # database use the annotation's decision index instead of reading every sample's decision.
    rejected = Annotation.objects.filter(sample__isnull=False, decision=Annotation.Decision.REJECT)
    samples = Sample.objects.filter(id__in=rejected.values("sample_id"), decision=Decision.HELD)
    if run_id is not None:
        samples = samples.filter(run_id=run_id)
    return (
        samples.select_related("run", "query__dataset", "adjudication__adjudicated_by")
        .prefetch_related(
            Prefetch("annotations", queryset=Annotation.objects.select_related("reviewer").order_by("decision"))
        )
        .order_by("run_id", "query_id", "sample_index")
    )


def sample_for_decision(*, sample_id: int) -> Sample:
    """One sample with what its decision fragment shows (raises Sample.DoesNotExist)."""
    return Sample.objects.select_related("run", "query__dataset", "adjudication__adjudicated_by").get(id=sample_id)
