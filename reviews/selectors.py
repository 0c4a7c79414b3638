"""Reads: the queries behind each page, with a fixed number of SQL statements per page."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from reviews.models import Annotation, ApiToken, Dataset, Query, Response, Run, Sample, Upload, Verdict

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


@dataclass
class QueryPage:
    """A query with its responses and, for one run, its k samples and verdict."""

    query: Query
    responses: list[Any]
    runs: list[Run]
    run: Run | None
    samples: list[Sample] = field(default_factory=list)
    verdict: Verdict | None = None
    chosen: list[int] = field(default_factory=list)  # per sample: the response it scored highest, or -1
    choice_counts: list[tuple[int, int]] = field(default_factory=list)  # (response position, samples)
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def samples_disagree(self) -> bool:
        return len(self.choice_counts) > 1


def query_page(*, dataset_name: str, query_id: int, run_id: int | None = None) -> QueryPage:
    """Everything the query page shows, in six SQL statements whatever k or the response count.

    The run is `run_id` when it judged this query, else the latest run that did."""
    query = Query.objects.select_related("dataset").get(dataset__name=dataset_name, id=query_id)
    responses = list(query.responses.all())
    runs = list(
        Run.objects.filter(verdicts__query=query).select_related("model_config").order_by("-created_at").distinct()
    )
    run = next((r for r in runs if r.pk == run_id), runs[0] if runs else None)
    page = QueryPage(query, responses, runs, run)
    if run is None:
        return page
    page.samples = list(Sample.objects.filter(run=run, query=query).order_by("sample_index"))
    page.verdict = next(iter(Verdict.objects.filter(run=run, query=query)), None)
    page.chosen = [top_choice(sample.scores) for sample in page.samples]
    counts = Counter(choice for choice in page.chosen if choice >= 0)
    page.choice_counts = sorted(counts.items())
    page.annotations = list(
        # By sample ids, not through a join: PostgreSQL then ORs two index scans (the join made it
        # read every annotation: 400 ms at 100,000 of them).
        Annotation.objects.filter(Q(sample__in=[sample.pk for sample in page.samples]) | Q(query=query))
        .select_related("reviewer")
        .prefetch_related("failure_modes")
        .order_by("sample_id", "reviewer__username")
    )
    return page


def top_choice(scores: list[int] | None) -> int:
    """The response a sample scored highest, or -1 for no scores or a tie."""
    if not scores:
        return -1
    top = max(scores)
    return scores.index(top) if scores.count(top) == 1 else -1


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
    meta = Verdict.objects.filter(run=run, meta_correct__isnull=False).aggregate(
        total=Count("id"), right=Count("id", filter=Q(meta_correct=True))
    )
    return {
        "total": total,
        "right": right,
        "accuracy": right / total if total else None,
        "subsets": subsets,
        "meta_total": meta["total"],
        "meta_accuracy": meta["right"] / meta["total"] if meta["total"] else None,
    }


def api_tokens_of(*, user: Any) -> QuerySet[ApiToken]:
    """A user's own API tokens, newest first (revoked ones too: they stay listed as revoked)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


@dataclass(frozen=True)
class Activity:
    when: Any
    who: str
    what: str
    url: str


def recent_activity(*, limit: int = 12) -> list[Activity]:
    """The latest annotations, uploads and runs, newest first (three SQL statements)."""
    from django.urls import reverse

    events: list[Activity] = []
    for annotation in Annotation.objects.select_related(
        "reviewer", "sample__query__dataset", "query__dataset"
    ).order_by("-updated_at")[:limit]:
        query = annotation.sample.query if annotation.sample else annotation.query
        assert query is not None
        target = (
            f"sample {annotation.sample.sample_index + 1} of {query.external_id}"
            if annotation.sample
            else query.external_id
        )
        events.append(
            Activity(
                annotation.updated_at,
                annotation.reviewer.username,
                f"{annotation.decision}ed {target}",
                reverse("query-detail", args=[query.dataset.name, query.pk]),
            )
        )
    for upload in Upload.objects.select_related("created_by").order_by("-created_at")[:limit]:
        who = upload.created_by.username if upload.created_by else "—"
        what = f"uploaded {upload.items:,} items into {upload.dataset_name} ({upload.status})"
        events.append(Activity(upload.created_at, who, what, reverse("dataset-detail", args=[upload.dataset_name])))
    for run in Run.objects.select_related("created_by", "dataset").order_by("-created_at")[:limit]:
        who = run.created_by.username if run.created_by else "—"
        events.append(
            Activity(
                run.created_at, who, f"started run {run.pk} on {run.dataset.name}", reverse("run-detail", args=[run.pk])
            )
        )
    return sorted(events, key=lambda event: event.when, reverse=True)[:limit]


def run_report_inputs(*, run_id: int) -> Iterator[tuple[Query, list[int], list[Sample]]]:
    """Each labelled-or-not query of a run with its response lengths and samples, query by query
    (for the worker's report; reads in chunks of 2,000 queries)."""
    from django.db.models.functions import Length

    query_ids = list(Verdict.objects.filter(run_id=run_id).order_by("query_id").values_list("query_id", flat=True))
    for start in range(0, len(query_ids), 2000):
        chunk = query_ids[start : start + 2000]
        queries = Query.objects.in_bulk(chunk)
        lengths: dict[int, list[int]] = defaultdict(list)
        for query_id, length in (
            Response.objects.filter(query_id__in=chunk)
            .order_by("query_id", "position")
            .annotate(n=Length("text"))
            .values_list("query_id", "n")
        ):
            lengths[query_id].append(length)
        samples: dict[int, list[Sample]] = defaultdict(list)
        for sample in (
            Sample.objects.filter(run_id=run_id, query_id__in=chunk)
            .order_by("query_id", "sample_index")
            .only("query_id", "scores", "permutation", "meta_score", "parse_status")
        ):
            samples[sample.query_id].append(sample)
        for query_id in chunk:
            yield queries[query_id], lengths[query_id], samples[query_id]


def accuracy_chart(report: dict[str, Any], *, width: int = 520, height: int = 240) -> dict[str, Any] | None:
    """Geometry of the accuracy-vs-k chart (server-rendered SVG): k on a log2 axis, accuracy on y."""
    curves: dict[str, dict[int, float]] = {}
    for name, key in (("Voting@k", "voting_curve"), ("MetaRM@k", "meta_curve")):
        points = report.get(key) or {}
        if points:
            curves[name] = {int(k): float(v) for k, v in points.items()}
    if not curves:
        return None
    ks = sorted({k for points in curves.values() for k in points})
    values = [v for points in curves.values() for v in points.values()]
    low, high = max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.05)
    if high - low < 0.1:
        low, high = max(0.0, high - 0.1), max(high, 0.1)
    left, right, top, bottom = 48, width - 16, 12, height - 32
    span = math.log2(ks[-1]) if ks[-1] > 1 else 1.0

    def x(k: int) -> float:
        return left + (right - left) * (math.log2(k) / span if ks[-1] > 1 else 0.5)

    def y(v: float) -> float:
        return bottom - (bottom - top) * (v - low) / (high - low)

    series = [
        {
            "name": name,
            "points": " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in sorted(points.items())),
            "dots": [{"x": round(x(k), 1), "y": round(y(v), 1), "k": k, "value": v} for k, v in sorted(points.items())],
        }
        for name, points in curves.items()
    ]
    ticks = [{"y": round(y(v), 1), "label": f"{v:.2f}"} for v in (low, (low + high) / 2, high)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "series": series,
        "x_ticks": [{"x": round(x(k), 1), "label": k} for k in ks],
        "y_ticks": ticks,
    }


@dataclass(frozen=True)
class SearchFilters:
    dataset: str = ""
    subset: str = ""
    run: int | None = None
    correct: bool | None = None  # the run's verdict on the query
    failure_mode: str = ""
    reviewer: str = ""
    text: str = ""


def search_queries(filters: SearchFilters) -> QuerySet[Query]:
    """Queries matching every given filter, newest dataset rows last; annotations count whether
    they are on the query itself or on one of its samples."""
    queries = Query.objects.select_related("dataset").annotate(response_count=Count("responses")).order_by("id")
    if filters.dataset:
        queries = queries.filter(dataset__name=filters.dataset)
    if filters.subset:
        queries = queries.filter(subset=filters.subset)
    if filters.run is not None:
        verdicts = Verdict.objects.filter(run_id=filters.run, query=OuterRef("pk"))
        if filters.correct is not None:
            verdicts = verdicts.filter(correct=filters.correct)
        queries = queries.filter(Exists(verdicts))
    annotations = Annotation.objects.filter(Q(query=OuterRef("pk")) | Q(sample__query=OuterRef("pk")))
    if filters.failure_mode:
        queries = queries.filter(Exists(annotations.filter(failure_modes__code=filters.failure_mode)))
    if filters.reviewer:
        queries = queries.filter(Exists(annotations.filter(reviewer__username=filters.reviewer)))
    if filters.text:
        queries = queries.filter(Q(external_id__icontains=filters.text) | Q(prompt__icontains=filters.text))
    return queries
