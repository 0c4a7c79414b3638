"""Reads for runs: the queries a run covers, what a batch judges, the run pages and the worker's report."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Length

from reviews.errors import RunInvalid
from reviews.models import Dataset, Query, Response, Run, RunEvent, Sample, Verdict
from reviews.selectors.datasets import subset_condition
from workers.grm.results import QueryInput, Settings


def run_queries(*, dataset: Any, query_filter: dict[str, Any], before: Any = None) -> QuerySet[Query]:
    """The queries a run covers: the dataset, narrowed by {'subset': name or [names], 'ids': [...]}.

    `before` (a run's creation time) leaves out queries imported after the run was created.
    """
    queries = Query.objects.filter(dataset=dataset)
    if before is not None:
        queries = queries.filter(created_at__lte=before)
    subset = query_filter.get("subset")
    if subset is not None:
        queries = queries.filter(subset_condition(subset))
    if query_filter.get("ids") is not None:
        queries = queries.filter(id__in=list(query_filter["ids"]))
    return queries.order_by("id")


QUERY_IDS_MAX = 10_000  # ids named one by one; a larger selection is a subset or a random sample


def run_query_filter(
    *,
    dataset: Dataset,
    subset: str = "",
    query_ids: Sequence[str] = (),
    sample_size: int | None = None,
    sample_seed: int = 0,
) -> dict[str, Any]:
    """Which queries a run judges, as its `query_filter`: a subset, the queries named by their ids in
    the dataset (external ids), and of those a random sample of `sample_size` drawn with `sample_seed`
    (the same seed draws the same queries; the sample is stored as ids, so the run is fixed)."""
    query_filter: dict[str, Any] = {"subset": subset} if subset else {}
    if query_ids:
        named = list(dict.fromkeys(query_ids))
        if len(named) > QUERY_IDS_MAX:
            message = f"at most {QUERY_IDS_MAX:,} query ids; choose a subset or a random sample"
            raise RunInvalid(message, field="query_ids")
        found = dict(Query.objects.filter(dataset=dataset, external_id__in=named).values_list("external_id", "id"))
        unknown = [name for name in named if name not in found]
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            raise RunInvalid(f"{dataset.name} has no queries with the ids {shown}", field="query_ids")
        query_filter["ids"] = sorted(found[name] for name in named)
    if sample_size is not None:
        pool = list(run_queries(dataset=dataset, query_filter=query_filter).values_list("id", flat=True))
        if not pool:
            raise RunInvalid("no queries to draw the sample from", field="sample_size")
        chosen = random.Random(sample_seed).sample(pool, min(sample_size, len(pool)))  # noqa: S311 - a seeded draw
        query_filter["ids"] = sorted(chosen)
        query_filter["sample"] = {"size": sample_size, "seed": sample_seed}
    return query_filter


def run_pending_batches(*, run: Run) -> list[list[int]]:
    """Ids of the run's queries with no verdict and no recorded failure, in batches of batch_size."""
    failed = set(run.failed_query_ids or []) | {int(query_id) for query_id in run.skipped_queries or {}}
    pending = [
        query_id
        for query_id in run_queries(dataset=run.dataset, query_filter=run.query_filter, before=run.created_at)
        .exclude(verdicts__run=run)
        .values_list("id", flat=True)
        if query_id not in failed
    ]
    return [pending[i : i + run.batch_size] for i in range(0, len(pending), run.batch_size)]


def run_batch_inputs(*, run_id: int, query_ids: Sequence[int]) -> tuple[Settings, list[QueryInput]] | None:
    """What the engine needs to judge a batch: the run's settings and the batch's queries that still
    need a judgment (none judged by another delivery, none recorded as failed). None when the run is
    not running any more."""
    run = Run.objects.select_related("template").filter(id=run_id).first()
    if run is None or run.status != Run.Status.RUNNING:
        return None
    skip = set(Verdict.objects.filter(run=run, query_id__in=query_ids).values_list("query_id", flat=True))
    skip |= set(run.failed_query_ids or []) | {int(query_id) for query_id in run.skipped_queries or {}}
    queries = (
        Query.objects.filter(id__in=[i for i in query_ids if i not in skip])
        .order_by("id")
        .prefetch_related("responses")
    )
    inputs = [
        QueryInput(
            key=str(query.id),
            context=query.context,
            responses=[response.text for response in query.responses.all()],
            best_index=query.best_index,
            rating=query.rating,
        )
        for query in queries
    ]
    settings = Settings(
        template=run.template.text,
        k=run.k,
        temperature=run.temperature,
        max_tokens=run.max_tokens,
        seed=run.seed,
        hinted=run.hinted,
        force_scores=run.force_scores,
        min_tokens=run.min_tokens,
        score_low=run.template.score_low,
        score_high=run.template.score_high,
    )
    return settings, inputs


def runs_list(*, dataset: str = "", status: str = "") -> QuerySet[Run]:
    """Runs for the API list, optionally of one dataset (by name) or in one status."""
    runs = Run.objects.select_related("dataset", "model_config", "template", "meta_checkpoint", "rft_round")
    if dataset:
        runs = runs.filter(dataset__name=dataset)
    if status:
        runs = runs.filter(status=status)
    return runs


def runs_recent(*, limit: int = 20) -> QuerySet[Run]:
    return Run.objects.select_related("dataset", "model_config", "template").order_by("-created_at")[:limit]


@dataclass(frozen=True)
class RunFilters:
    """The runs page's filters; each is optional and they combine."""

    dataset: str = ""
    model: str = ""  # a model configuration's name
    status: str = ""
    round: int | None = None  # an RFT round's number


def runs_filtered(filters: RunFilters) -> QuerySet[Run]:
    """Runs matching every given filter, newest first, with what their rows show."""
    runs = Run.objects.select_related("dataset", "model_config", "rft_round").order_by("-created_at", "-id")
    if filters.dataset:
        runs = runs.filter(dataset__name=filters.dataset)
    if filters.model:
        runs = runs.filter(model_config__name=filters.model)
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.round is not None:
        runs = runs.filter(rft_round__number=filters.round)
    return runs


# Below this many new tokens a judgment rarely reaches its score line (principles, critique, then
# "Scores: \\boxed{...}"): 48 gave the built-in model 100% parse failures. A rule of thumb, not a limit.
JUDGMENT_MIN_TOKENS = 128
CHARS_PER_TOKEN = 4  # a rough average for English text, for estimates only


@dataclass(frozen=True)
class RunEstimate:
    """What a run would cost before it starts: its size, its token budget and, from the model's earlier
    runs, how long it would take; with warnings about settings that waste it."""

    queries: int
    samples: int
    max_new_tokens: int  # samples x max tokens: the most it can generate
    prompt_tokens: int  # about: the selected queries' prompts and responses, once each
    tokens_per_second: float | None  # the model's measured rate (median of its recent finished runs)
    typical_new_tokens: int | None  # what its samples have generated on average, capped at max tokens
    seconds: int | None  # samples x typical tokens / rate
    seconds_at_most: int | None  # samples x max tokens / rate
    warnings: list[str]
    window: int | None = None  # the model's context window, when a worker has found it or it is configured
    too_long: int = 0  # about: queries whose prompt and max tokens would not fit the window


def model_window(model_config: Any) -> int | None:
    """The model's context window as far as the web knows it: what a worker found, or shorter when its
    configuration says so (`context_window`)."""
    found = model_config.context_window
    configured = (model_config.generation_params or {}).get("context_window")
    windows = [int(window) for window in (found, configured) if window]
    return min(windows) if windows else None


def run_estimate(
    *,
    queries: QuerySet[Query],
    k: int,
    max_tokens: int,
    model_config: Any,
    force_scores: bool,
    template_chars: int = 0,
) -> RunEstimate:
    """The estimate for a run of `model_config` over `queries` (four statements)."""
    size = queries.aggregate(n=Count("id"), chars=Sum(Length("prompt")))
    response_chars = Response.objects.filter(query__in=queries).aggregate(chars=Sum(Length("text")))["chars"] or 0
    count = size["n"] or 0
    samples = count * k
    recent = list(
        Run.objects.filter(model_config=model_config, status=Run.Status.DONE, generation_seconds__gt=0)
        .order_by("-finished_at")
        .values_list("tokens_generated", "generation_seconds", "samples_done")[:10]
    )
    rates = sorted(tokens / seconds for tokens, seconds, _ in recent if tokens)
    rate = rates[len(rates) // 2] if rates else None
    generated = sum(tokens for tokens, _, _ in recent)
    stored = sum(done for _, _, done in recent)
    typical = min(max_tokens, round(generated / stored)) if stored and generated else None
    warnings = []
    if max_tokens < JUDGMENT_MIN_TOKENS and not force_scores:
        warnings.append(
            f"max tokens {max_tokens} is below the ~{JUDGMENT_MIN_TOKENS} a judgment needs to reach its score "
            "line (principles, critique, then the scores): expect parse failures, or turn on score forcing"
        )
    window = model_window(model_config)
    too_long = 0
    if window is not None:
        # Characters a prompt may hold to fit with max tokens, at CHARS_PER_TOKEN: the worker counts exactly.
        room = (window - max_tokens) * CHARS_PER_TOKEN - template_chars
        per_query = (
            Response.objects.filter(query=OuterRef("pk")).order_by().values("query").annotate(n=Sum(Length("text")))
        )
        too_long = (
            queries.annotate(chars=Length("prompt") + Coalesce(Subquery(per_query.values("n")), 0))
            .filter(chars__gt=room)
            .count()
        )
        if too_long:
            warnings.append(
                f"about {too_long} of these queries may not fit the model's {window:,}-token window with max tokens "
                f"{max_tokens}: the worker measures each prompt, skips those that do not fit and lists them on the "
                "run page"
            )
    return RunEstimate(
        window=window,
        too_long=too_long,
        queries=count,
        samples=samples,
        max_new_tokens=samples * max_tokens,
        prompt_tokens=((size["chars"] or 0) + response_chars) // CHARS_PER_TOKEN,
        tokens_per_second=rate,
        typical_new_tokens=typical,
        seconds=round(samples * typical / rate) if rate and typical else None,
        seconds_at_most=round(samples * max_tokens / rate) if rate else None,
        warnings=warnings,
    )


def run_for_page(*, run_id: int) -> Run:
    return Run.objects.select_related(
        "dataset", "model_config", "template", "created_by", "meta_checkpoint", "rft_round", "source_run"
    ).get(id=run_id)


def run_accuracy(*, run: Run) -> dict[str, object]:
    """Voting@k accuracy over labelled queries (a labelled best, or one response's rating), overall and per
    subset (one SQL query), and MetaRM@k's over the same."""
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


@dataclass(frozen=True)
class SkippedQuery:
    query: Query
    prompt_tokens: int
    window: int


def run_skipped(*, run: Run, limit: int = 100) -> list[SkippedQuery]:
    """The first `limit` queries the run did not judge because they do not fit the model's window."""
    recorded = run.skipped_queries or {}
    ids = sorted(int(query_id) for query_id in recorded)[:limit]
    queries = Query.objects.select_related("dataset").in_bulk(ids)
    return [
        SkippedQuery(queries[query_id], recorded[str(query_id)]["prompt_tokens"], recorded[str(query_id)]["window"])
        for query_id in ids
        if query_id in queries
    ]


@dataclass(frozen=True)
class RunErrorLog:
    """The newest entries of a run's error log, and how many there are in all."""

    events: list[RunEvent]
    total: int


def run_error_log(*, run: Run, limit: int = 50) -> RunErrorLog:
    """The run's error log, newest first: the first `limit` entries (the API lists them all)."""
    events = list(RunEvent.objects.filter(run=run).order_by("-created_at", "-id")[:limit])
    total = len(events) if len(events) < limit else RunEvent.objects.filter(run=run).count()
    return RunErrorLog(events, total)


def run_events(*, run_id: int) -> QuerySet[RunEvent] | None:
    """Every entry of a run's error log; None when there is no such run."""
    if not Run.objects.filter(id=run_id).exists():
        return None
    return RunEvent.objects.filter(run_id=run_id)


def run_verdict_counts(*, run: Run) -> dict[str, int]:
    """How many of the run's queries each verdict filter of the search page finds (two statements):
    every judged query, right, wrong, tied (broken by the seed), and with a sample that did not parse."""
    counts = Verdict.objects.filter(run=run).aggregate(
        all=Count("id"),
        right=Count("id", filter=Q(correct=True)),
        wrong=Count("id", filter=Q(correct=False)),
        tied=Count("id", filter=Q(tie_broken=True)),
    )
    unparsed = Sample.objects.filter(run=run).exclude(parse_status=Sample.ParseStatus.OK)
    counts["unparsed"] = unparsed.values("query_id").distinct().count()
    return counts


def samples_list(*, filters: dict[str, Any]) -> QuerySet[Sample]:
    """Samples for the API list, filtered by run, query and parse status."""
    return Sample.objects.filter(**filters)


def verdicts_list(*, filters: dict[str, Any]) -> QuerySet[Verdict]:
    """Verdicts for the API list, filtered by run, query and correctness."""
    return Verdict.objects.filter(**filters)


def run_report_inputs(*, run_id: int) -> Iterator[tuple[Query, list[int], list[Sample]]]:
    """Each labelled-or-not query of a run with its response lengths and samples, query by query
    (for the worker's report; reads in chunks of 2,000 queries)."""
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


@dataclass(frozen=True)
class HintedCandidates:
    """The queries of a run that a hinted resampling would cover (GRM_SPEC 6): their count and ids."""

    count: int
    ids: list[int]


def hinted_candidates(*, run: Run) -> HintedCandidates:
    """The queries whose every non-hinted sample in `run` is wrong (parse failures included), leaving out
    those a live resampling of `run` covers already (queued, running or done), so it is launched once.

    Only queries labelled with a best response: the hint names that response, and a rating label gives
    the engine no hint to show (its sample would be stored unhinted). A query without samples is none.
    """
    if run.hinted:
        return HintedCandidates(0, [])
    failed = (
        Sample.objects.filter(run=run, hinted=False, query__best_index__isnull=False)
        .values("query_id")
        .annotate(kept=Count("id", filter=Q(correct=True) | Q(correct__isnull=True)))
        .filter(kept=0)
        .order_by("query_id")
        .values_list("query_id", flat=True)
    )
    live = Run.objects.filter(source_run=run).exclude(status__in=[Run.Status.FAILED, Run.Status.CANCELLED])
    covered = {
        query_id
        for query_filter in live.values_list("query_filter", flat=True)
        for query_id in query_filter.get("ids", [])
    }
    ids = [query_id for query_id in failed if query_id not in covered]
    return HintedCandidates(len(ids), ids)
