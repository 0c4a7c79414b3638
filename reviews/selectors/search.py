"""Finding queries: one filter set behind the search page and the API's query list."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from reviews.models import Annotation, Query, Verdict
from reviews.selectors.datasets import subset_condition, text_condition


@dataclass(frozen=True)
class SearchFilters:
    """Every filter is optional; a query must match all the given ones."""

    dataset: str = ""
    subset: str = ""
    run: int | None = None
    correct: bool | None = None  # the run's verdict on the query (needs `run`)
    failure_mode: str = ""  # tagged on the query or one of its samples
    reviewer: str = ""  # annotated the query or one of its samples
    text: str = ""
    labelled: bool | None = None  # has a best response or a rating
    best: int | None = None
    rating: int | None = None
    reviewed: bool | None = None  # has an annotation on the query or one of its samples


def search_queries(filters: SearchFilters, *, with_responses: bool = False) -> QuerySet[Query]:
    """Queries matching every given filter, in id order, with their dataset. Pages get the response
    count (`response_count`); the API (`with_responses`) the responses themselves, prefetched."""
    queries = Query.objects.select_related("dataset").order_by("id")
    if with_responses:
        queries = queries.prefetch_related("responses")
    else:
        queries = queries.annotate(response_count=Count("responses"))
    if filters.dataset:
        queries = queries.filter(dataset__name=filters.dataset)
    if filters.subset:
        queries = queries.filter(subset_condition(filters.subset))
    if filters.labelled is not None:
        labelled = Q(best_index__isnull=False) | Q(rating__isnull=False)
        queries = queries.filter(labelled if filters.labelled else ~labelled)
    if filters.best is not None:
        queries = queries.filter(best_index=filters.best)
    if filters.rating is not None:
        queries = queries.filter(rating=filters.rating)
    if filters.run is not None:
        verdicts = Verdict.objects.filter(run_id=filters.run, query=OuterRef("pk"))
        if filters.correct is not None:
            verdicts = verdicts.filter(correct=filters.correct)
        queries = queries.filter(Exists(verdicts))
    annotations = Annotation.objects.filter(Q(query=OuterRef("pk")) | Q(sample__query=OuterRef("pk")))
    if filters.reviewed is not None:
        # Two subqueries, not joins: one SQL statement and no duplicate rows however many annotations.
        reviewed = Exists(Annotation.objects.filter(query=OuterRef("pk"))) | Exists(
            Annotation.objects.filter(sample__query=OuterRef("pk"))
        )
        queries = queries.filter(reviewed if filters.reviewed else ~reviewed)
    if filters.failure_mode:
        queries = queries.filter(Exists(annotations.filter(failure_modes__code=filters.failure_mode)))
    if filters.reviewer:
        queries = queries.filter(Exists(annotations.filter(reviewer__username=filters.reviewer)))
    if filters.text:
        queries = queries.filter(text_condition(filters.text))
    return queries
