"""Reads: the queries behind each page, with a fixed number of SQL statements per page."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, Q, QuerySet

from reviews.models import ApiToken, Dataset, Query, Run, Verdict

NO_SUBSET = "__none__"  # the filter value that selects queries without a subset


def datasets_overview() -> list[Dataset]:
    """Every dataset with its query and label counts and its subsets (two SQL queries)."""
    datasets: list[Dataset] = list(
        Dataset.objects.annotate(
            query_count=Count("queries"),
            labelled_count=Count(
                "queries", filter=Q(queries__best_index__isnull=False) | Q(queries__rating__isnull=False)
            ),
        ).order_by("name")
    )
    subsets: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    for dataset_id, subset, count in (
        Query.objects.values_list("dataset_id", "subset").annotate(n=Count("id")).order_by("dataset_id", "subset")
    ):
        subsets[dataset_id].append((subset or NO_SUBSET, subset or "(none)", count))
    for dataset in datasets:
        dataset.subset_counts = subsets.get(dataset.id, [])  # type: ignore[attr-defined]
    return datasets


def runs_recent(*, limit: int = 20) -> QuerySet[Run]:
    return Run.objects.select_related("dataset", "model_config", "template").order_by("-created_at")[:limit]


def dataset_queries(*, dataset: Dataset, subset: str = "", text: str = "") -> QuerySet[Query]:
    """A dataset's queries for a list page, with their response counts.

    `subset` empty means all subsets; NO_SUBSET means queries that have none. `text` searches the id
    and the user's query.
    """
    queries = dataset.queries.annotate(response_count=Count("responses")).order_by("id")
    if subset:
        queries = queries.filter(subset="" if subset == NO_SUBSET else subset)
    if text:
        queries = queries.filter(Q(external_id__icontains=text) | Q(prompt__icontains=text))
    return queries


def dataset_subsets(*, dataset: Dataset) -> list[tuple[str, str]]:
    """(filter value, label) for each subset of the dataset."""
    names = dataset.queries.order_by("subset").values_list("subset", flat=True).distinct()
    return [(name or NO_SUBSET, name or "(none)") for name in names]


def query_with_responses(*, dataset_name: str, query_id: int) -> Query:
    return (
        Query.objects.select_related("dataset")
        .prefetch_related("responses")
        .get(dataset__name=dataset_name, id=query_id)
    )


def run_for_page(*, run_id: int) -> Run:
    return Run.objects.select_related("dataset", "model_config", "template", "created_by").get(id=run_id)


def run_accuracy(*, run: Run) -> dict[str, object]:
    """Voting@k accuracy over queries with a labelled best, overall and per subset (one SQL query)."""
    rows = list(
        Verdict.objects.filter(run=run, correct__isnull=False)
        .values("query__subset")
        .annotate(total=Count("id"), right=Count("id", filter=Q(correct=True)))
        .order_by("query__subset")
    )
    subsets = [
        {
            "subset": row["query__subset"] or "(none)",
            "total": row["total"],
            "right": row["right"],
            "accuracy": row["right"] / row["total"],
        }
        for row in rows
    ]
    total = sum(row["total"] for row in rows)
    right = sum(row["right"] for row in rows)
    return {"total": total, "right": right, "accuracy": right / total if total else None, "subsets": subsets}


def api_tokens_of(*, user: Any) -> QuerySet[ApiToken]:
    """A user's own API tokens, newest first (revoked ones too: they stay listed as revoked)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
