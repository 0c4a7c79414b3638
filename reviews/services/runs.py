"""Writes for runs: create, claim, store a judged batch, record failures, refresh progress, cancel,
resume.

Every function is safe to call twice with the same arguments (a task delivered again): samples and
verdicts are unique per (run, query, index) and (run, query), counters are recomputed from rows, and
status changes are conditional updates that only one caller can win.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from reviews import audit, enqueue, rendering
from reviews.errors import Conflict, RunInvalid
from reviews.models import (
    Dataset,
    MetaRmCheckpoint,
    ModelConfig,
    PromptTemplate,
    Query,
    Round,
    Run,
    RunEvent,
    Sample,
    Verdict,
)
from reviews.selectors.runs import hinted_candidates, run_queries, run_query_filter
from reviews.services.configs import defaults_ensure
from reviews.services.metarm import run_meta_after_sampling
from reviews.services.run_events import run_event_record
from workers.grm.results import QueryResult, SampleResult
from workers.grm.rft import FinalDecision, Reason, final_decision, rule_reasons

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """The allowed range of a run parameter, its default and what it means: the run form, the API's
    serializer, the `grm_run` command and `run_create` all read these."""

    low: float
    high: float
    default: float
    help: str = ""


RUN_PARAMETERS: dict[str, Limit] = {
    "k": Limit(1, 64, 4, "Samples per query."),
    "temperature": Limit(0.0, 2.0, 0.5, "Sampling temperature; 0 is greedy."),
    "max_tokens": Limit(1, 32768, 512, "New tokens per sample at most."),
    "seed": Limit(0, 2**63 - 1, 0, "Seeds the shown order of responses, the sampling and tie-breaks."),
    "batch_size": Limit(1, 256, 8, "Queries per worker task."),
}


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise RunInvalid(f"{name} must be from {low} to {high}, got {value}", field=name)


@transaction.atomic
def run_create(
    *,
    dataset: Dataset,
    model_config: ModelConfig,
    template: PromptTemplate,
    k: int,
    temperature: float = RUN_PARAMETERS["temperature"].default,
    max_tokens: int = int(RUN_PARAMETERS["max_tokens"].default),
    seed: int = 0,
    hinted: bool = False,
    force_scores: bool = False,
    min_tokens: int = 0,
    batch_size: int = int(RUN_PARAMETERS["batch_size"].default),
    k_meta: int | None = None,
    meta_checkpoint: MetaRmCheckpoint | None = None,
    query_filter: dict[str, Any] | None = None,
    rft_round: Round | None = None,
    created_by: User | None = None,
) -> Run:
    """Create a run and enqueue it once the transaction commits."""
    values = {"k": k, "temperature": temperature, "max_tokens": max_tokens, "seed": seed, "batch_size": batch_size}
    for name, value in values.items():
        limit = RUN_PARAMETERS[name]
        _check_range(name, value, limit.low, limit.high)
    _check_range("min_tokens", min_tokens, 0, max_tokens)
    if k_meta is not None:
        _check_range("k_meta", k_meta, 1, k)
    if k_meta is not None and meta_checkpoint is None:  # MetaRM@k asked for: the active checkpoint scores
        meta_checkpoint = MetaRmCheckpoint.objects.filter(is_active=True).first()
        if meta_checkpoint is None:
            raise RunInvalid(
                "k_meta needs a meta RM: no checkpoint is active (train one with metarm_train)", field="k_meta"
            )
    if meta_checkpoint is not None and not meta_checkpoint.is_ready:
        message = f"meta RM checkpoint {meta_checkpoint.name} is {meta_checkpoint.status}, not ready"
        raise RunInvalid(message, field="meta_checkpoint")
    query_filter = dict(query_filter or {})
    unknown = set(query_filter) - {"subset", "ids", "sample"}
    if unknown:
        raise RunInvalid(
            f"query_filter accepts subset, ids and sample, not {', '.join(sorted(unknown))}", field="query_filter"
        )
    queries = run_queries(dataset=dataset, query_filter=query_filter, before=timezone.now())
    total = queries.count()
    if total == 0:
        raise RunInvalid(f"no queries in {dataset.name} match {query_filter or 'the run'}")
    _check_template_fits(template, queries)
    run = Run.objects.create(
        dataset=dataset,
        model_config=model_config,
        template=template,
        k=k,
        k_meta=k_meta,
        meta_checkpoint=meta_checkpoint,
        meta_status=Run.MetaStatus.WAITING if meta_checkpoint is not None else Run.MetaStatus.NONE,
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
    enqueue.on_commit(enqueue.RUN_START, run.id)
    return run


def _check_template_fits(template: PromptTemplate, queries: QuerySet[Query]) -> None:
    """A single-response template judges one response per query, and a rating label must be a score
    the template can give (the paper's 0/1 label needs the 0/1 template)."""
    if template.single_response:
        several = queries.annotate(n=Count("responses")).exclude(n=1).count()
        if several:
            raise RunInvalid(
                f"{template.name} judges one response per query; {several} of the queries have several",
                field="template",
            )
    in_range = Q(rating__gte=template.score_low, rating__lte=template.score_high)
    outside = queries.filter(rating__isnull=False).exclude(in_range)
    count = outside.count()
    if count:
        example = outside.values_list("rating", flat=True).first()
        raise RunInvalid(
            f"{count} queries are labelled with ratings the template cannot give (e.g. {example}; "
            f"{template.name} scores {template.score_low}-{template.score_high}); a 0/1 label needs the "
            "single-response template",
            field="template",
        )


def run_create_from(*, dataset: Dataset, params: Mapping[str, Any], created_by: User | None = None) -> Run:
    """A run from the parameters a page form, the API's serializer or the command line validated:
    the names of RUN_PARAMETERS, `hinted`, `force_scores`, `model_config` / `template` (the defaults
    when absent or empty), `k_meta` / `meta_checkpoint` for MetaRM@k, `rft_round` (a Round) for the
    RFT round the run belongs to, and which queries: `subset`, `query_ids` (their ids in the dataset),
    `sample_size` and `sample_seed` (run_query_filter)."""
    template, model = defaults_ensure()
    query_filter = run_query_filter(
        dataset=dataset,
        subset=params.get("subset") or "",
        query_ids=params.get("query_ids") or (),
        sample_size=params.get("sample_size") or None,
        sample_seed=params.get("sample_seed") or 0,
    )
    return run_create(
        dataset=dataset,
        model_config=params.get("model_config") or model,
        template=params.get("template") or template,
        **{name: params[name] for name in RUN_PARAMETERS if params.get(name) is not None},
        hinted=bool(params.get("hinted")),
        force_scores=bool(params.get("force_scores")),
        k_meta=params.get("k_meta") or None,
        meta_checkpoint=params.get("meta_checkpoint") or None,
        query_filter=query_filter,
        rft_round=params.get("rft_round") or None,
        created_by=created_by,
    )


def run_claim(*, run_id: int) -> Run | None:
    """Move a queued run to running; the run if it is running now (claimed here or before), else None."""
    Run.objects.filter(id=run_id, status=Run.Status.QUEUED).update(status=Run.Status.RUNNING, started_at=timezone.now())
    run = Run.objects.filter(id=run_id).first()
    return run if run is not None and run.status == Run.Status.RUNNING else None


def run_store_results(*, run_id: int, results: Sequence[QueryResult], generation_seconds: float) -> int:
    """Store a judged batch's samples and verdicts (what was stored already stays: a batch delivered
    twice stores once), add its generation time and refresh the run's counters; returns the queries."""
    samples = [
        Sample(
            run_id=run_id,
            rule_reason=rule,
            decision=final.decision,
            decision_reason=final.reason,
            decision_source=final.source,
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
        for sample, rule, final in _rft_outcomes(result)
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
        Run.objects.filter(id=run_id).update(generation_seconds=F("generation_seconds") + generation_seconds)
    run_refresh_progress(run_id=run_id)
    # The judgments' Markdown, rendered once here rather than on every view of their pages.
    rendering.prerender(rendering.markdown(text) for sample in samples for text in (sample.principles, sample.critique))
    return len(results)


def _rft_outcomes(result: QueryResult) -> list[tuple[SampleResult, Reason, FinalDecision]]:
    """Each of one query's samples with its rejective fine-tuning outcome (GRM_SPEC 6); no one has
    reviewed a sample yet when it is stored, so the rule decides."""
    rules = rule_reasons(
        [sample.correct for sample in result.samples],
        [sample.scores is not None for sample in result.samples],
        hinted=any(sample.hinted for sample in result.samples),
    )
    return [(sample, rule, final_decision(rule)) for sample, rule in zip(result.samples, rules, strict=True)]


def run_batch_failed(
    *, run_id: int, query_ids: Sequence[int], message: str, attempt: int = 0, task_id: str = "", worker: str = ""
) -> None:
    """Record that a batch failed for good: its queries are skipped, the message is shown and logged
    on the run's page, the run goes on."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(id=run_id)
        # A query judged by another delivery of this batch is done, not failed.
        judged = set(Verdict.objects.filter(run_id=run_id, query_id__in=query_ids).values_list("query_id", flat=True))
        run.failed_query_ids = sorted(set(run.failed_query_ids or []) | (set(query_ids) - judged))
        line = f"{len(query_ids)} queries failed: {message}"
        if line not in run.error_message:
            run.error_message = (run.error_message + "\n" + line).strip()[-10_000:]
        run.save(update_fields=["failed_query_ids", "error_message", "updated_at"])
    run_event_record(
        run_id=run_id,
        kind=RunEvent.Kind.BATCH_FAILED,
        message=message,
        queries=len(query_ids),
        attempt=attempt,
        task_id=task_id,
        worker=worker,
    )
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
    failed = len(run.failed_query_ids or []) + len(run.skipped_queries or {})
    if done + failed >= run.queries_total:
        status = Run.Status.DONE if done else Run.Status.FAILED
        # Done: the report is computed next (its task clears the phase when it stores it).
        phase = Run.Phase.AGGREGATING if status == Run.Status.DONE else ""
        ended = Run.objects.filter(id=run_id, status=Run.Status.RUNNING).update(
            status=status, finished_at=timezone.now(), phase=phase
        )
        if ended and status == Run.Status.DONE:
            enqueue.on_commit(enqueue.RUN_REPORT, run_id)
        if ended:
            run_meta_after_sampling(run_id=run_id, status=status)


def run_queries_skipped(*, run_id: int, skipped: Sequence[tuple[int, int, int]]) -> None:
    """Record queries a worker did not judge because (prompt tokens, window) do not leave room for max
    tokens: the run page lists them with the reason, and they count as finished."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(id=run_id).first()
        if run is None:
            return
        recorded = dict(run.skipped_queries or {})
        for query_id, prompt_tokens, window in skipped:
            recorded[str(query_id)] = {"prompt_tokens": prompt_tokens, "window": window}
        Run.objects.filter(id=run_id).update(skipped_queries=recorded)
        _refresh_locked(run_id)


def run_report_store(*, run_id: int, report: dict[str, Any]) -> None:
    """Keep a finished run's computed report (accuracy as k grows, bias diagnostics)."""
    Run.objects.filter(id=run_id).update(report=report, phase="")


def run_phase_set(*, run_id: int, phase: str) -> None:
    """What a worker is doing for the running run now (Run.Phase), for its progress."""
    Run.objects.filter(id=run_id, status=Run.Status.RUNNING).exclude(phase=phase).update(phase=phase)


def run_cancel(*, run: Run) -> bool:
    """Stop a queued or running run: batches not started yet are skipped. False if it had ended."""
    cancelled = Run.objects.filter(id=run.id, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).update(
        status=Run.Status.CANCELLED, finished_at=timezone.now(), phase=""
    )
    if cancelled:
        audit.record_update(run, status=(run.status, Run.Status.CANCELLED))
        run_meta_after_sampling(run_id=run.id, status=Run.Status.CANCELLED)
    return bool(cancelled)


def runs_resume_stalled(*, stalled_for: timedelta) -> list[int]:
    """Re-enqueue runs that made no progress for `stalled_for` (a worker died with their tasks): their
    sampling, or their meta scoring.

    Claims each run by moving its updated_at, so of several workers starting at once only one
    re-enqueues it. Work already stored is skipped when the batches run again.
    """
    cutoff = timezone.now() - stalled_for
    resumed = []
    stalled = (
        (Q(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]), enqueue.RUN_START),
        (Q(meta_status__in=[Run.MetaStatus.QUEUED, Run.MetaStatus.SCORING]), enqueue.METARM_SCORE),
    )
    for condition, task in stalled:
        for run_id, updated_at in Run.objects.filter(condition, updated_at__lte=cutoff).values_list("id", "updated_at"):
            if Run.objects.filter(id=run_id, updated_at=updated_at).update(updated_at=timezone.now()):
                with transaction.atomic():
                    enqueue.on_commit(task, run_id)
                    what = "sampling" if task == enqueue.RUN_START else "meta scoring"
                    run_event_record(
                        run_id=run_id,
                        kind=RunEvent.Kind.RESUMED,
                        message=f"{what} made no progress for {stalled_for.total_seconds():.0f} s (its worker or "
                        "its tasks were lost): what is not stored yet is queued again",
                    )
                resumed.append(run_id)
    if resumed:
        logger.info("resuming stalled runs %s", resumed)
    return resumed


def run_heartbeat(*, run_id: int) -> None:
    """Mark a run as making progress (a batch is generating), so it does not look stalled."""
    Run.objects.filter(id=run_id, status=Run.Status.RUNNING).update(updated_at=timezone.now())


def run_report_request(*, run: Run) -> None:
    """Compute a finished run's report again (a report from an older version, or after new meta scores)."""
    if run.is_active:
        raise Conflict(f"run {run.id} is still {run.status}; its report is computed when it ends")
    if not run.samples_done:
        raise Conflict(f"run {run.id} has no samples to report on")
    with transaction.atomic():
        enqueue.on_commit(enqueue.RUN_REPORT, run.id)


@transaction.atomic
def run_create_hinted(*, run: Run, created_by: User | None) -> Run:
    """Hinted resampling (GRM_SPEC 6): one sample with the labelled best named in the prompt for each query
    of `run` whose every sample was wrong, with the run's model, template and sampling settings.

    The source run is locked while its queries are chosen, so two admins clicking at once launch one run
    (the queries a live resampling covers are no longer candidates).
    """
    source = Run.objects.select_for_update().select_related("dataset", "model_config", "template").get(id=run.id)
    if source.hinted:
        raise RunInvalid(f"run {source.id} is itself hinted: resample the non-hinted run it came from")
    if source.status != Run.Status.DONE:
        raise RunInvalid(f"run {source.id} is {source.status}: resample it with the hint once it is done")
    candidates = hinted_candidates(run=source)
    if not candidates.count:
        raise RunInvalid(
            f"run {source.id} has no query left to resample with the hint: none labelled with a best response "
            "had every sample wrong, or a hinted run covers them already"
        )
    hinted = run_create(
        dataset=source.dataset,
        model_config=source.model_config,
        template=source.template,
        k=1,
        temperature=source.temperature,
        max_tokens=source.max_tokens,
        seed=source.seed,
        hinted=True,
        force_scores=source.force_scores,
        min_tokens=source.min_tokens,
        batch_size=source.batch_size,
        query_filter={"ids": candidates.ids},
        rft_round=source.rft_round,
        created_by=created_by,
    )
    Run.objects.filter(id=hinted.id).update(source_run=source)
    hinted.source_run = source
    return hinted
