"""Celery tasks: thin entry points and the only bridge from the domain to the engine. A task loads
ids, reads its inputs through a selector, calls the pure engine, stores the result through a service
and records the outcome.

Heavy libraries load inside the worker, once per process (`workers.runtime`). GPU-queue tasks are
named `gpu_*` (routed by settings.CELERY_TASK_ROUTES); the domain sends tasks by these names
(`reviews.enqueue`), never importing this module.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import connection

from reviews.models import Dataset, ModelConfig, Run
from reviews.selectors import runs as run_selectors
from reviews.services import runs as run_services
from reviews.services import uploads as upload_services
from workers import runtime
from workers.backends.base import Backend, PermanentBackendError, TransientBackendError
from workers.engine import judge

logger = logging.getLogger(__name__)
MAX_RETRIES = 3


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
    """Judge one batch. Transient backend errors retry with backoff; others fail this batch only."""
    run = Run.objects.select_related("model_config").filter(id=run_id).first()
    if run is None or not run.is_active:
        return 0
    try:
        with runtime.Heartbeat(
            lambda: run_services.run_heartbeat(run_id=run_id),
            interval=max(1.0, settings.GRM_RUN_STALL_SECONDS / 10),
            done=lambda: connection.close(),  # the heartbeat thread's own connection (looked up in that thread)
            name=f"heartbeat-run-{run_id}",
        ):
            return judge_batch(run_id=run_id, query_ids=query_ids, load_backend=lambda: _backend_of(run.model_config))
    except TransientBackendError as exc:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
        message = f"{exc} (gave up after {MAX_RETRIES} retries)"
    except PermanentBackendError as exc:
        message = str(exc)
    except Exception as exc:  # anything else (out of memory, a bad parameter): record it, never lose the batch
        logger.exception("run %s: batch failed", run_id)
        message = f"{type(exc).__name__}: {exc}"
    run_services.run_batch_failed(run_id=run_id, query_ids=query_ids, message=message)
    return 0


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
    results, seconds = judge(load_backend(), queries, judge_settings)
    return run_services.run_store_results(run_id=run_id, results=results, generation_seconds=seconds)


def _backend_of(model_config: ModelConfig) -> Backend:
    return runtime.backend_for(
        model_config.backend, model_config.model, base_url=model_config.base_url, options=model_config.generation_params
    )


@shared_task(name="workers.tasks.ingest_upload")
def ingest_upload(upload_id: int) -> str | None:
    """Ingest an upload received by the web process (cpu queue); returns its final status."""
    upload = upload_services.upload_ingest(upload_id)
    return upload.status if upload else None


@shared_task(name="workers.tasks.run_report")
def run_report(run_id: int) -> dict[str, Any]:
    """Compute a finished run's accuracy-vs-k curves and bias diagnostics (numpy: worker only)."""
    from workers.grm.bias import bias_diagnostics
    from workers.grm.curves import QuerySamples, accuracy_curve

    labelled: list[QuerySamples] = []
    bias_input: list[tuple[Any, Any, int | None, list[int]]] = []
    for query, lengths, samples in run_selectors.run_report_inputs(run_id=run_id):
        valid = [s.scores if s.parse_status == "ok" else None for s in samples]
        if query.best_index is not None and len(lengths) >= 2 and samples:
            labelled.append(QuerySamples(valid, query.best_index, [s.meta_score for s in samples]))
        pairs = zip(samples, valid, strict=True)
        bias_input.extend((scores, s.permutation, query.best_index, lengths) for s, scores in pairs)
    report: dict[str, Any] = {"bias": bias_diagnostics(bias_input), "labelled_queries": len(labelled)}
    if labelled:
        report["voting_curve"] = {str(k): v for k, v in accuracy_curve(labelled).items()}
        if any(q.meta_scores and any(m is not None for m in q.meta_scores) for q in labelled):
            report["meta_curve"] = {str(k): v for k, v in accuracy_curve(labelled, meta=True).items()}
    run_services.run_report_store(run_id=run_id, report=report)
    return report


@shared_task(name="workers.tasks.runs_watchdog")
def runs_watchdog() -> list[int]:
    """Periodic (celery beat): re-enqueue runs and uploads whose tasks died with a worker or were lost
    by the broker."""
    upload_services.uploads_resume_stalled()
    return run_services.runs_resume_stalled(stalled_for=timedelta(seconds=settings.GRM_RUN_STALL_SECONDS))


@worker_ready.connect
def resume_stalled_runs(**kwargs: Any) -> None:
    """A worker that starts picks up runs whose tasks died with another worker."""
    run_services.runs_resume_stalled(stalled_for=timedelta(seconds=settings.GRM_RUN_STALL_SECONDS))
