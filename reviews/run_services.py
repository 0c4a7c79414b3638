"""Writes for runs: create, claim, judge a batch, record failures, refresh progress, cancel, resume.

Every function is safe to call twice with the same arguments (a task delivered again): samples and
verdicts are unique per (run, query, index) and (run, query), counters are recomputed from rows, and
status changes are conditional updates that only one caller can win.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.text import slugify

from reviews.models import Dataset, ModelConfig, PromptTemplate, Query, Round, Run, Sample, Verdict
from workers.backends.base import Backend
from workers.engine import QueryInput, Settings, judge

logger = logging.getLogger(__name__)

LIMITS = {"k": (1, 64), "max_tokens": (1, 32768), "batch_size": (1, 256)}


class RunInvalid(ValueError):
    """A run cannot be created with these parameters; the message names the parameter."""


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise RunInvalid(f"{name} must be from {low} to {high}, got {value}")


def run_queries(*, dataset: Dataset, query_filter: dict[str, Any], before: Any = None) -> QuerySet[Query]:
    """The queries a run covers: the dataset, narrowed by {'subset': name or [names], 'ids': [...]}.

    `before` (a run's creation time) leaves out queries imported after the run was created.
    """
    queries = Query.objects.filter(dataset=dataset)
    if before is not None:
        queries = queries.filter(created_at__lte=before)
    subset = query_filter.get("subset")
    if subset is not None:
        queries = queries.filter(subset__in=[subset] if isinstance(subset, str) else list(subset))
    if query_filter.get("ids") is not None:
        queries = queries.filter(id__in=list(query_filter["ids"]))
    return queries.order_by("id")


@transaction.atomic
def run_create(
    *,
    dataset: Dataset,
    model_config: ModelConfig,
    template: PromptTemplate,
    k: int,
    temperature: float = 0.5,
    max_tokens: int = 1024,
    seed: int = 0,
    hinted: bool = False,
    force_scores: bool = False,
    min_tokens: int = 0,
    batch_size: int = 8,
    k_meta: int | None = None,
    query_filter: dict[str, Any] | None = None,
    rft_round: Round | None = None,
    created_by: User | None = None,
) -> Run:
    """Create a run and enqueue it once the transaction commits."""
    for name, value in (("k", k), ("max_tokens", max_tokens), ("batch_size", batch_size)):
        _check_range(name, value, *LIMITS[name])
    _check_range("temperature", temperature, 0.0, 2.0)
    _check_range("min_tokens", min_tokens, 0, max_tokens)
    _check_range("seed", seed, 0, 2**63 - 1)
    if k_meta is not None:
        _check_range("k_meta", k_meta, 1, k)
    query_filter = dict(query_filter or {})
    unknown = set(query_filter) - {"subset", "ids"}
    if unknown:
        raise RunInvalid(f"query_filter accepts subset and ids, not {', '.join(sorted(unknown))}")
    total = run_queries(dataset=dataset, query_filter=query_filter, before=timezone.now()).count()
    if total == 0:
        raise RunInvalid(f"no queries in {dataset.name} match {query_filter or 'the run'}")
    run = Run.objects.create(
        dataset=dataset,
        model_config=model_config,
        template=template,
        k=k,
        k_meta=k_meta,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        hinted=hinted,
        force_scores=force_scores,
        min_tokens=min_tokens,
        batch_size=batch_size,
        query_filter=query_filter,
        rft_round=rft_round,
        created_by=created_by,
        queries_total=total,
    )
    _enqueue_start(run.id)
    return run


def _enqueue_start(run_id: int) -> None:
    from workers.tasks import run_start

    transaction.on_commit(lambda: run_start.delay(run_id))


def run_claim(*, run_id: int) -> Run | None:
    """Move a queued run to running; the run if it is running now (claimed here or before), else None."""
    Run.objects.filter(id=run_id, status=Run.Status.QUEUED).update(status=Run.Status.RUNNING, started_at=timezone.now())
    run = Run.objects.filter(id=run_id).first()
    return run if run is not None and run.status == Run.Status.RUNNING else None


def run_pending_batches(*, run: Run) -> list[list[int]]:
    """Ids of the run's queries with no verdict and no recorded failure, in batches of batch_size."""
    failed = set(run.failed_query_ids or [])
    pending = [
        query_id
        for query_id in run_queries(dataset=run.dataset, query_filter=run.query_filter, before=run.created_at)
        .exclude(verdicts__run=run)
        .values_list("id", flat=True)
        if query_id not in failed
    ]
    return [pending[i : i + run.batch_size] for i in range(0, len(pending), run.batch_size)]


def run_judge_batch(*, run_id: int, query_ids: Sequence[int], backend: Backend) -> int:
    """Judge the batch's queries that still need it and store samples and verdicts; returns how many."""
    run = Run.objects.select_related("template").get(id=run_id)
    if run.status != Run.Status.RUNNING:
        return 0
    skip = set(Verdict.objects.filter(run=run, query_id__in=query_ids).values_list("query_id", flat=True))
    skip |= set(run.failed_query_ids or [])
    queries = list(
        Query.objects.filter(id__in=[i for i in query_ids if i not in skip])
        .order_by("id")
        .prefetch_related("responses")
    )
    if not queries:
        run_refresh_progress(run_id=run_id)
        return 0
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
    )
    results, seconds = judge(backend, inputs, settings)
    samples = [
        Sample(
            run_id=run_id,
            query_id=int(result.query.key),
            sample_index=sample.sample_index,
            permutation=sample.permutation,
            raw_text=sample.raw_text,
            principles=sample.judgment.principles,
            critique=sample.judgment.critique,
            scores=sample.scores,
            parse_status=str(sample.judgment.status),
            sections_missing=sample.judgment.sections_missing,
            forced=sample.forced,
            hinted=sample.hinted,
            prompt_tokens=sample.prompt_tokens,
            completion_tokens=sample.completion_tokens,
            latency_ms=sample.latency_ms,
            correct=sample.correct,
        )
        for result in results
        for sample in result.samples
    ]
    verdicts = [
        Verdict(
            run_id=run_id,
            query_id=int(result.query.key),
            valid_samples=result.vote.voters,
            vote_totals=result.vote.totals,
            best_index=result.vote.best_index,
            correct=result.correct,
            tie_broken=result.vote.tie_broken,
            vote_entropy=result.entropy,
        )
        for result in results
    ]
    with transaction.atomic():
        Sample.objects.bulk_create(samples, ignore_conflicts=True)
        Verdict.objects.bulk_create(verdicts, ignore_conflicts=True)
        Run.objects.filter(id=run_id).update(generation_seconds=F("generation_seconds") + seconds)
    run_refresh_progress(run_id=run_id)
    return len(results)


def run_batch_failed(*, run_id: int, query_ids: Sequence[int], message: str) -> None:
    """Record that a batch failed for good: its queries are skipped, the message is shown, the run goes on."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(id=run_id)
        # A query judged by another delivery of this batch is done, not failed.
        judged = set(Verdict.objects.filter(run_id=run_id, query_id__in=query_ids).values_list("query_id", flat=True))
        run.failed_query_ids = sorted(set(run.failed_query_ids or []) | (set(query_ids) - judged))
        line = f"{len(query_ids)} queries failed: {message}"
        if line not in run.error_message:
            run.error_message = (run.error_message + "\n" + line).strip()[-10_000:]
        run.save(update_fields=["failed_query_ids", "error_message", "updated_at"])
    logger.warning("run %s: batch of %d failed: %s", run_id, len(query_ids), message)
    run_refresh_progress(run_id=run_id)


def run_refresh_progress(*, run_id: int) -> None:
    """Recompute the counters from the stored rows, and finish the run when nothing is left.

    The run row is locked first, so concurrent refreshes apply in turn and the last one wins.
    """
    with transaction.atomic():
        Run.objects.select_for_update().filter(id=run_id).first()
        _refresh_locked(run_id)


def _refresh_locked(run_id: int) -> None:
    totals = Sample.objects.filter(run_id=run_id).aggregate(
        samples=Count("id"),
        failures=Count("id", filter=~Q(parse_status=Sample.ParseStatus.OK)),
        forced=Count("id", filter=Q(forced=True)),
        tokens=Sum("completion_tokens"),
    )
    done = Verdict.objects.filter(run_id=run_id).count()
    Run.objects.filter(id=run_id).update(
        queries_done=done,
        samples_done=totals["samples"],
        parse_failures=totals["failures"],
        forced_samples=totals["forced"],
        tokens_generated=totals["tokens"] or 0,
        updated_at=timezone.now(),
    )
    run = Run.objects.get(id=run_id)
    failed = len(run.failed_query_ids or [])
    if done + failed >= run.queries_total:
        status = Run.Status.DONE if done else Run.Status.FAILED
        ended = Run.objects.filter(id=run_id, status=Run.Status.RUNNING).update(
            status=status, finished_at=timezone.now()
        )
        if ended and status == Run.Status.DONE:
            from workers.tasks import run_report  # workers import reviews: import at call time

            transaction.on_commit(lambda: run_report.delay(run_id))


def run_report_store(*, run_id: int, report: dict[str, Any]) -> None:
    """Keep a finished run's computed report (accuracy as k grows, bias diagnostics)."""
    Run.objects.filter(id=run_id).update(report=report)


def run_cancel(*, run: Run) -> bool:
    """Stop a queued or running run: batches not started yet are skipped. False if it had ended."""
    return bool(
        Run.objects.filter(id=run.id, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).update(
            status=Run.Status.CANCELLED, finished_at=timezone.now()
        )
    )


def runs_resume_stalled(*, stalled_for: timedelta) -> list[int]:
    """Re-enqueue runs that made no progress for `stalled_for` (a worker died with their tasks).

    Claims each run by moving its updated_at, so of several workers starting at once only one
    re-enqueues it. Work already stored is skipped when the batches run again.
    """
    cutoff = timezone.now() - stalled_for
    resumed = []
    for run_id, updated_at in Run.objects.filter(
        status__in=[Run.Status.QUEUED, Run.Status.RUNNING], updated_at__lte=cutoff
    ).values_list("id", "updated_at"):
        if Run.objects.filter(id=run_id, updated_at=updated_at).update(updated_at=timezone.now()):
            with transaction.atomic():
                _enqueue_start(run_id)
            resumed.append(run_id)
    if resumed:
        logger.info("resuming stalled runs %s", resumed)
    return resumed


def model_config_for(*, backend: str, model: str, base_url: str = "") -> ModelConfig:
    """The model configuration with these settings, created (named after them) if none exists."""
    existing = ModelConfig.objects.filter(backend=backend, model=model, base_url=base_url).first()
    if existing is not None:
        return existing
    base = slugify(f"{backend}-{model.rsplit('/', 1)[-1]}")[:80] or backend
    name, suffix = base, 1
    while ModelConfig.objects.filter(name=name).exists():
        suffix += 1
        name = f"{base}-{suffix}"
    return ModelConfig.objects.create(name=name, backend=backend, model=model, base_url=base_url)


def run_heartbeat(*, run_id: int) -> None:
    """Mark a run as making progress (a batch is generating), so it does not look stalled."""
    Run.objects.filter(id=run_id, status=Run.Status.RUNNING).update(updated_at=timezone.now())
