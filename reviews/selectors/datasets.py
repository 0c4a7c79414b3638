"""Reads for datasets: the overview, a dataset's queries and subsets, and the query page.

Subsets are chosen and filtered here only: `subset_condition` and `dataset_subsets` are what every
form, page, run and queue uses.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet

from reviews.models import Annotation, Dataset, Query, Run, Sample, Verdict
from reviews.selectors.judgments import Cards, judgment_cards
from workers.grm.voting import top_choice

NO_SUBSET = "__none__"  # the filter value that selects queries without a subset


def subset_condition(subset: str | Sequence[str], *, via: str = "") -> Q:
    """Queries in the subset (or any of the subsets); NO_SUBSET stands for queries that have none.
    `via` reaches the query from another model, e.g. "query__" for samples."""
    names = [subset] if isinstance(subset, str) else list(subset)
    return Q(**{f"{via}subset__in": ["" if name == NO_SUBSET else name for name in names]})


def text_condition(text: str) -> Q:
    """Queries whose id or user's query holds `text` (any case): the dataset page and search both use it."""
    return Q(external_id__icontains=text) | Q(prompt__icontains=text)


def dataset_subsets(*, dataset: Dataset) -> list[tuple[str, str]]:
    """(filter value, label) for each subset of the dataset, "(none)" for queries without one."""
    names = dataset.queries.order_by("subset").values_list("subset", flat=True).distinct()
    return [(name or NO_SUBSET, name or "(none)") for name in names]


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


def datasets_list(*, name: str = "") -> QuerySet[Dataset]:
    """Datasets with their query counts, for the API (one by exact name when given)."""
    datasets = Dataset.objects.annotate(query_count=Count("queries"))
    return datasets.filter(name=name) if name else datasets


def dataset_queries(*, dataset: Dataset, subset: str = "", text: str = "") -> QuerySet[Query]:
    """A dataset's queries for a list page, with their response counts.

    `subset` empty means all subsets; NO_SUBSET means queries that have none. `text` searches the id
    and the user's query (`text_condition`).
    """
    queries = dataset.queries.annotate(response_count=Count("responses")).order_by("id")
    if subset:
        queries = queries.filter(subset_condition(subset))
    if text:
        queries = queries.filter(text_condition(text))
    return queries


@dataclass
class QueryPage:
    """A query with its responses and, for one run, its k samples and verdict."""

    query: Query
    responses: list[Any]
    runs: list[Run]
    run: Run | None
    samples: list[Sample] = field(default_factory=list)
    verdict: Verdict | None = None
    chosen: list[int | None] = field(default_factory=list)  # per sample: the response it scored highest
    choice_counts: list[tuple[int, int]] = field(default_factory=list)  # (response position, samples)
    annotations: list[Annotation] = field(default_factory=list)
    cards: Cards = field(default_factory=Cards)  # the texts as HTML (reviews.selectors.judgments)

    @property
    def samples_disagree(self) -> bool:
        return len(self.choice_counts) > 1


def query_page(*, dataset_name: str, query_id: int, run_id: int | None = None) -> QueryPage:
    """Everything the query page shows, in seven SQL statements whatever k or the response count.

    The run is `run_id` when it judged this query, else the latest run that did."""
    query = Query.objects.select_related("dataset").get(dataset__name=dataset_name, id=query_id)
    responses = list(query.responses.all())
    runs = list(
        Run.objects.filter(verdicts__query=query)
        .select_related("model_config", "template")  # the template's score range reads the raw outputs
        .order_by("-created_at")
        .distinct()
    )
    run = next((r for r in runs if r.pk == run_id), runs[0] if runs else None)
    page = QueryPage(query, responses, runs, run)
    if run is None:
        page.cards = judgment_cards(query=query, responses=responses, samples=[])
        return page
    # The admin's adjudication (and who wrote it) in the same statement: the decision badge names them.
    page.samples = list(
        Sample.objects.filter(run=run, query=query)
        .select_related("adjudication__adjudicated_by")
        .order_by("sample_index")
    )
    page.verdict = next(iter(Verdict.objects.filter(run=run, query=query)), None)
    page.cards = judgment_cards(
        query=query,
        responses=responses,
        samples=page.samples,
        score_low=run.template.score_low,
        score_high=run.template.score_high,
    )
    page.chosen = [top_choice(sample.scores) for sample in page.samples]
    counts = Counter(choice for choice in page.chosen if choice is not None)
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
