"""Celery tasks: thin entry points and the only bridge from the domain to the engine. A task loads
ids, reads its inputs through a selector, calls the pure engine, stores the result through a service
and records the outcome.

Heavy libraries load inside the worker, once per process (`workers.runtime`). GPU-queue tasks are
named `gpu_*` (routed by settings.CELERY_TASK_ROUTES); the domain sends tasks by these names
(`reviews.enqueue`), never importing this module.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from celery import Task, shared_task
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from reviews.models import Dataset, MetaRmCheckpoint, ModelConfig, Run, RunEvent
from reviews.selectors import metarm as metarm_selectors
from reviews.selectors import runs as run_selectors
from reviews.services import configs as config_services
from reviews.services import metarm as metarm_services
from reviews.services import releases as release_services
from reviews.services import runs as run_services
from reviews.services import uploads as upload_services
from reviews.services import workers as worker_services
from reviews.services.run_events import run_event_record
from workers import runtime
from workers.backends.base import Backend, PermanentBackendError, TransientBackendError
from workers.engine import derived_seed, fit_window, judge, verdict_correct
from workers.grm.results import QueryInput
from workers.grm.voting import default_k_meta, meta_vote

logger = logging.getLogger(__name__)
MAX_RETRIES = 3
# A batch is judged in up to this many backend calls, each stored as it ends, so a run's progress moves
# within a batch (a CPU batch of eight queries takes minutes). A GPU batch keeps most of its batching:
# raise `batch_size` for bigger calls.
PROGRESS_PARTS = 4
Item = TypeVar("Item")


@shared_task(name="workers.tasks.ping")
def ping() -> dict[str, object]:
    """Prove a worker is alive and sees the same database as the web process."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "db_vendor": connection.vendor,
        "datasets": Dataset.objects.count(),
    }


@shared_task(name="workers.tasks.run_start")
def run_start(run_id: int) -> int:
    """Claim a queued run and enqueue a GPU task per batch of queries still to judge."""
    run = run_services.run_claim(run_id=run_id)
    if run is None:
        return 0
    batches = run_selectors.run_pending_batches(run=run)
    for query_ids in batches:
        gpu_sample_batch.delay(run_id, query_ids)
    if not batches:
        run_services.run_refresh_progress(run_id=run_id)
    return len(batches)


@shared_task(name="workers.tasks.gpu_sample_batch", bind=True, max_retries=MAX_RETRIES)
def gpu_sample_batch(self: Task[Any, Any], run_id: int, query_ids: list[int]) -> int:
    """Judge one batch. Transient backend errors and a lost database connection retry with backoff
    (what was stored stays stored: the next delivery judges only the rest); others fail this batch
    only. Each retry and failure goes to the run's error log."""
    attempt = self.request.retries
    where = _Delivery(attempt=attempt, task_id=self.request.id or "", worker=self.request.hostname or "")
    try:
        run = Run.objects.select_related("model_config").filter(id=run_id).first()
        if run is None or not run.is_active:
            return 0
        model_config = run.model_config
        with _heartbeat(lambda: run_services.run_heartbeat(run_id=run_id), f"heartbeat-run-{run_id}"):
            return judge_batch(run_id=run_id, query_ids=query_ids, load_backend=lambda: _backend_of(model_config))
    except TransientBackendError as exc:
        if attempt < MAX_RETRIES:
            raise _retry(self, run_id, query_ids, exc, str(exc), countdown=5 * 2**attempt, where=where) from exc
        message = f"{exc} (gave up after {MAX_RETRIES} retries)"
    except (OperationalError, InterfaceError) as exc:  # the database dropped this worker's connection
        if not connection.in_atomic_block:  # (tests run tasks inside a transaction)
            connection.close()  # the next statement opens a new one
        if attempt < MAX_RETRIES:
            cause = f"the database connection was lost ({_first_line(exc)})"
            raise _retry(self, run_id, query_ids, exc, cause, countdown=2**attempt, where=where) from exc
        message = f"the database connection was lost {MAX_RETRIES + 1} times: {_first_line(exc)}"
    except PermanentBackendError as exc:
        message = str(exc)
    except Exception as exc:  # anything else (out of memory, a bad parameter): record it, never lose the batch
        logger.exception("run %s: batch failed", run_id)
        message = f"{type(exc).__name__}: {exc}"
    run_services.run_batch_failed(run_id=run_id, query_ids=query_ids, message=message, **where)
    return 0


class _Delivery(TypedDict):
    """Which delivery of a task this is, as the run's error log records it."""

    attempt: int
    task_id: str
    worker: str


def _retry(
    task: Task[Any, Any],
    run_id: int,
    query_ids: list[int],
    exc: Exception,
    cause: str,
    *,
    countdown: int,
    where: _Delivery,
) -> Any:
    """Log the retry on the run's page and hand Celery the exception that sends the batch again."""
    logger.warning("run %s: batch of %d tried again in %d s: %s", run_id, len(query_ids), countdown, cause)
    message = f"{cause}; tried again in {countdown} s (retry {where['attempt'] + 1} of {MAX_RETRIES})"
    run_event_record(run_id=run_id, kind=RunEvent.Kind.BATCH_RETRIED, message=message, queries=len(query_ids), **where)
    return task.retry(exc=exc, countdown=countdown)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def judge_batch(*, run_id: int, query_ids: list[int], load_backend: Callable[[], Backend]) -> int:
    """The bridge: read the batch's inputs through a selector, judge them with the engine, store the
    outcome through a service; returns the queries judged. The backend loads only when there is work."""
    inputs = run_selectors.run_batch_inputs(run_id=run_id, query_ids=query_ids)
    if inputs is None:  # the run ended (cancelled) meanwhile
        return 0
    judge_settings, queries = inputs
    if not queries:  # judged by another delivery, or recorded as failed
        run_services.run_refresh_progress(run_id=run_id)
        return 0
    run_services.run_phase_set(run_id=run_id, phase=Run.Phase.LOADING)  # at once "generating" when loaded
    backend = load_backend()
    window_of = getattr(backend, "context_window", None)
    if window_of is not None:
        config_services.model_window_record(run_id=run_id, window=window_of())
    queries, oversize = fit_window(backend, queries, judge_settings)
    if oversize:  # not judged: listed on the run page with their length against the window
        skipped = [(int(query.key), query.prompt_tokens, query.window) for query in oversize]
        run_services.run_queries_skipped(run_id=run_id, skipped=skipped)
    run_services.run_phase_set(run_id=run_id, phase=Run.Phase.GENERATING)
    stored = 0
    for part in progress_parts(queries):  # each part stored as it ends: the run's progress moves
        results, seconds = judge(backend, part, judge_settings)
        stored += run_services.run_store_results(run_id=run_id, results=results, generation_seconds=seconds)
    return stored


def progress_parts(queries: Sequence[Item], parts: int = PROGRESS_PARTS) -> list[Sequence[Item]]:
    """A batch in up to `parts` consecutive parts of nearly equal size, each one backend call."""
    size = max(1, math.ceil(len(queries) / parts))
    return [queries[start : start + size] for start in range(0, len(queries), size)]


def _backend_of(model_config: ModelConfig) -> Backend:
    return runtime.backend_for(
        model_config.backend, model_config.model, base_url=model_config.base_url, options=model_config.generation_params
    )


@shared_task(name="workers.tasks.ingest_upload")
def ingest_upload(upload_id: int) -> str | None:
    """Ingest an upload received by the web process (cpu queue); returns its final status."""
    upload = upload_services.upload_ingest(upload_id)
    return upload.status if upload else None


@shared_task(name="workers.tasks.release_build")
def release_build(release_id: int) -> str | None:
    """Build a release's files (cpu queue): stream its rows into JSON Lines and Parquet, hash them and
    write the manifest; returns the release's final status."""
    beat = _heartbeat(lambda: release_services.release_heartbeat(release_id=release_id), f"release-{release_id}")
    with beat:
        release = release_services.release_build(release_id=release_id)
    return release.status if release else None


@shared_task(name="workers.tasks.run_report")
def run_report(run_id: int) -> dict[str, Any]:
    """Compute a finished run's scaling report (Voting@k and MetaRM@k against k with bootstrap bands,
    per subset) and bias diagnostics (numpy: worker only)."""
    from workers.grm.bias import bias_diagnostics
    from workers.grm.scaling import ReportQuery, scaling_report

    run = Run.objects.select_related("template").get(id=run_id)
    # A MetaRM@k curve only from a finished scoring: partial or another checkpoint's scores would mislead.
    meta_done = run.meta_status == Run.MetaStatus.DONE
    labelled: list[ReportQuery] = []
    bias_input: list[tuple[Any, Any, int | None, list[int]]] = []
    for query, lengths, samples in run_selectors.run_report_inputs(run_id=run_id):
        valid = [s.scores if s.parse_status == "ok" else None for s in samples]
        if samples and (query.best_index is not None or query.rating is not None):
            meta = [s.meta_score for s in samples] if meta_done else None
            labelled.append(ReportQuery(valid, query.best_index, query.rating, query.subset, meta))
        pairs = zip(samples, valid, strict=True)
        bias_input.extend((scores, s.permutation, query.best_index, lengths) for s, scores in pairs)
    report: dict[str, Any] = {"version": 2, "bias": bias_diagnostics(bias_input), "labelled_queries": len(labelled)}
    if labelled:
        # A single response's label is positive at the top of the template's range (1 of 0/1, 10 of 1-10).
        report["scaling"] = scaling_report(
            labelled,
            seed=run.seed,
            positive_rating=run.template.score_high,
            meta_keep=(run.k_meta, run.k) if run.k_meta else (1, 2),
        )
    run_services.run_report_store(run_id=run_id, report=report)
    return report


@shared_task(name="workers.tasks.gpu_metarm_train")
def gpu_metarm_train(checkpoint_id: int) -> str | None:
    """Train a meta RM checkpoint on its runs' labelled judgments (gpu queue: it holds the process's
    one model while it trains); progress is stored as it goes. Returns the checkpoint's status."""
    checkpoint = metarm_services.checkpoint_claim(checkpoint_id=checkpoint_id)
    if checkpoint is None:
        return None
    try:
        from workers.metarm import MetaExample, train_metarm
        from workers.metarm.checkpoint import record_trained_on

        if checkpoint.trained_on_release is not None:  # a metarm release's rows, as exported
            judgments = metarm_selectors.release_judgments(release=checkpoint.trained_on_release)
        else:
            run_ids = list(checkpoint.trained_on_runs.values_list("id", flat=True))
            judgments = metarm_selectors.training_judgments(run_ids=run_ids)
        examples = [MetaExample(group=str(j.query_id), messages=j.messages, label=j.label) for j in judgments]
        runtime.release_backends()  # one model per process: the GRM makes room for the backbone
        # Each attempt its own folder: a delivery again never writes over another's files.
        out_dir = Path(settings.GRM_METARM_DIR) / f"{checkpoint.id}-{checkpoint.name}-{uuid.uuid4().hex[:8]}"
        with _heartbeat(
            lambda: metarm_services.checkpoint_heartbeat(checkpoint_id=checkpoint_id), f"metarm-{checkpoint_id}"
        ):
            result = train_metarm(
                examples,
                profile=checkpoint.profile,
                base_model=checkpoint.base_model or None,
                out_dir=out_dir,
                cache_dir=Path(settings.GRM_METARM_DIR) / "cache",
                seed=checkpoint.seed,
                progress=lambda fraction, phase: metarm_services.checkpoint_progress(
                    checkpoint_id=checkpoint_id, fraction=fraction, phase=phase
                ),
            )
        trained_on = [
            {"sample": j.sample_id, "query": j.query_id, "label": j.label, "source": j.source, "row": j.row}
            for j in judgments
        ]
        digest = record_trained_on(result.path, trained_on)
    except Exception as exc:  # a bad backbone, too little data, out of memory: recorded on the checkpoint
        logger.exception("meta RM checkpoint %s: training failed", checkpoint_id)
        metarm_services.checkpoint_fail(checkpoint_id=checkpoint_id, message=f"{type(exc).__name__}: {exc}")
        return MetaRmCheckpoint.Status.FAILED
    metrics: dict[str, Any] = {
        **result.metrics,
        "counts": result.counts,
        "tuning": result.tuning,
        "max_length": result.max_length,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
    }
    metrics["labels"] = {
        "reviewer": sum(j.source == "reviewer" for j in judgments),
        "adjudication": sum(j.source == "adjudication" for j in judgments),
        "rule": sum(j.source == "rule" for j in judgments),
    }
    metarm_services.checkpoint_finish(
        checkpoint_id=checkpoint_id,
        location=str(result.path),
        base_model=result.base_model,
        metrics=metrics,
        content_hash=digest,
        training_examples=len(examples),
    )
    return MetaRmCheckpoint.Status.READY


@shared_task(name="workers.tasks.gpu_metarm_score")
def gpu_metarm_score(run_id: int) -> int:
    """Score every parsed sample of a run with its meta RM checkpoint, batch by batch (a delivery
    again goes on where the last stopped), then vote MetaRM@k per query. Returns samples scored."""
    run = metarm_services.run_meta_claim(run_id=run_id)
    if run is None or run.meta_checkpoint is None:
        return 0
    scored = 0
    checkpoint_id = run.meta_checkpoint.id
    try:
        with _heartbeat(lambda: metarm_services.run_meta_heartbeat(run_id=run_id), f"metarm-run-{run_id}"):
            scorer = runtime.metarm_scorer_for(run.meta_checkpoint.location)
            batches = metarm_selectors.meta_scoring_batches(run_id=run_id, batch_size=settings.GRM_METARM_BATCH)
            for sample_ids in batches:
                stored = score_samples(run_id=run_id, checkpoint_id=checkpoint_id, sample_ids=sample_ids, scorer=scorer)
                if not stored:  # another checkpoint was chosen meanwhile: that request scores the run
                    return scored
                scored += stored
            metarm_services.run_meta_verdicts_store(run_id=run_id, verdicts=list(_meta_verdicts(run)))
    except Exception as exc:  # recorded on the run; its samples and Voting@k verdicts are untouched
        logger.exception("run %s: meta scoring failed", run_id)
        metarm_services.run_meta_fail(run_id=run_id, message=f"{type(exc).__name__}: {exc}")
        return scored
    metarm_services.run_meta_finish(run_id=run_id)
    return scored


def score_samples(*, run_id: int, checkpoint_id: int, sample_ids: list[int], scorer: Any) -> int:
    """The bridge for one batch: meta-RM inputs through a selector, logits from the scorer, stored
    through a service (0 when the run is no longer scored with this checkpoint)."""
    inputs = metarm_selectors.meta_scoring_inputs(sample_ids=sample_ids)
    logits = scorer.score([messages for _, messages in inputs])
    scores = {sample_id: logit for (sample_id, _), logit in zip(inputs, logits, strict=True)}
    return metarm_services.run_meta_scores_store(run_id=run_id, checkpoint_id=checkpoint_id, scores=scores)


def _heartbeat(beat: Callable[[], None], name: str) -> runtime.Heartbeat:
    """A heartbeat thread while long work runs (a batch generating, a model loading, a training step),
    beating well inside the stall timeout; it closes its own database connection when it stops. A beat
    the database refused (its connection was dropped) is logged, and the next beat reconnects."""

    def beat_or_reconnect() -> None:
        try:
            beat()
        except DatabaseError:
            logger.warning("%s: a heartbeat was not stored; the next one reconnects", name, exc_info=True)
            connection.close()

    return runtime.Heartbeat(
        beat_or_reconnect,
        interval=max(1.0, settings.GRM_RUN_STALL_SECONDS / 10),
        done=lambda: connection.close(),
        name=name,
    )


def _meta_verdicts(run: Run) -> Iterator[tuple[int, list[int], int | None, bool | None]]:
    """MetaRM@k per query: vote over the k_meta samples the meta RM scores highest (GRM_SPEC 5)."""
    k_meta = run.k_meta or default_k_meta(run.k)
    for item in metarm_selectors.meta_vote_inputs(run_id=run.id):
        seed = derived_seed(run.seed, item.query_id, "meta")
        vote = meta_vote(item.scores, item.meta_scores, item.responses, k_meta=k_meta, seed=seed)
        query = QueryInput(
            key=str(item.query_id),
            context=[],
            responses=[""] * item.responses,
            best_index=item.best_index,
            rating=item.rating,
        )
        # Like Voting@k, a labelled query with no valid sample is wrong, not left out (it would flatter MetaRM@k).
        yield item.query_id, vote.totals, vote.best_index, verdict_correct(vote, query, seed=seed)


@shared_task(name="workers.tasks.runs_watchdog")
def runs_watchdog() -> list[int]:
    """Periodic (celery beat): re-enqueue runs and uploads whose tasks died with a worker or were lost
    by the broker, and remove the upload files a killed web process left behind."""
    upload_services.uploads_resume_stalled()
    upload_services.uploads_sweep_orphans()
    stalled_for = timedelta(seconds=settings.GRM_RUN_STALL_SECONDS)
    metarm_services.checkpoints_resume_stalled(stalled_for=stalled_for)
    release_services.releases_resume_stalled(stalled_for=stalled_for)
    return run_services.runs_resume_stalled(stalled_for=stalled_for)


@worker_ready.connect
def resume_stalled_runs(**kwargs: Any) -> None:
    """A worker that starts picks up runs and meta RM trainings whose tasks died with another worker."""
    stalled_for = timedelta(seconds=settings.GRM_RUN_STALL_SECONDS)
    run_services.runs_resume_stalled(stalled_for=stalled_for)
    metarm_services.checkpoints_resume_stalled(stalled_for=stalled_for)


_worker_heartbeat: dict[str, Any] = {}


@worker_ready.connect
def start_worker_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    """Say every GRM_WORKER_HEARTBEAT_SECONDS that this worker is alive (`/healthz` lists the workers)."""
    name = str(getattr(sender, "hostname", "") or socket.gethostname())
    try:
        queues = ",".join(sorted(queue.name for queue in sender.task_consumer.queues))
    except AttributeError:
        queues = ""

    def beat() -> None:
        try:
            worker_services.worker_heartbeat(name=name, queues=queues, pid=os.getpid())
        except Exception:  # the database is away for a moment: the next beat tries again
            logger.warning("worker heartbeat not stored", exc_info=True)
            connection.close()

    beat()
    heartbeat = runtime.Heartbeat(
        beat,
        interval=settings.GRM_WORKER_HEARTBEAT_SECONDS,
        done=lambda: connection.close(),
        name="grm-worker-heartbeat",
    )
    heartbeat.__enter__()
    _worker_heartbeat.update(name=name, thread=heartbeat)


@worker_shutdown.connect
def stop_worker_heartbeat(**kwargs: Any) -> None:
    heartbeat = _worker_heartbeat.pop("thread", None)
    if heartbeat is None:
        return
    heartbeat.__exit__(None, None, None)
    try:
        worker_services.worker_stopped(name=_worker_heartbeat["name"])
    except Exception:
        logger.warning("worker heartbeat not removed", exc_info=True)
