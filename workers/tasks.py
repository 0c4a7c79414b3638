"""Celery tasks: thin entry points that load ids, call a service and record the outcome.

Heavy libraries load inside the worker, once per process: `backend_for` keeps one backend per
model configuration. GPU-queue tasks are named `gpu_*` (routed by settings.CELERY_TASK_ROUTES).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import sys
import threading
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import connection

from reviews import run_services, selectors, upload_services
from reviews.models import Dataset, ModelConfig, Run
from workers.backends.base import Backend, BackendError, PermanentBackendError, TransientBackendError, load_backend

logger = logging.getLogger(__name__)
_BACKENDS: dict[str, Backend] = {}
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


def backend_for(model_config: ModelConfig) -> Backend:
    """The backend for a model configuration, loaded on first use and kept while runs use it.

    One model per worker process: loading another configuration frees the previous one first (two
    vLLM engines would not fit on one GPU).
    """
    key = json.dumps(
        [model_config.backend, model_config.model, model_config.base_url, model_config.generation_params],
        sort_keys=True,
    )
    if key not in _BACKENDS:
        _release_backends()
        logger.info("loading %s backend for %s", model_config.backend, model_config.model)
        try:
            _BACKENDS[key] = load_backend(
                model_config.backend,
                model_config.model,
                base_url=model_config.base_url,
                options=model_config.generation_params,
            )
        except BackendError:
            raise
        except Exception as exc:  # a model that cannot load will not load on a retry either
            raise PermanentBackendError(
                f"cannot load {model_config.backend} model {model_config.model!r}: {exc}"
            ) from exc
    return _BACKENDS[key]


def _release_backends() -> None:
    if not _BACKENDS:
        return
    _BACKENDS.clear()
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Heartbeat:
    """While a batch generates, mark its run as alive every `interval` seconds (a separate thread)."""

    def __init__(self, run_id: int, interval: float) -> None:
        self.run_id = run_id
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-run-{run_id}", daemon=True)

    def _beat(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                run_services.run_heartbeat(run_id=self.run_id)
        finally:
            connection.close()  # this thread's own database connection

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()


@shared_task(name="workers.tasks.run_start")
def run_start(run_id: int) -> int:
    """Claim a queued run and enqueue a GPU task per batch of queries still to judge."""
    run = run_services.run_claim(run_id=run_id)
    if run is None:
        return 0
    batches = run_services.run_pending_batches(run=run)
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
        with _Heartbeat(run_id, interval=max(1.0, settings.GRM_RUN_STALL_SECONDS / 10)):
            backend = backend_for(run.model_config)
            return run_services.run_judge_batch(run_id=run_id, query_ids=query_ids, backend=backend)
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
    for query, lengths, samples in selectors.run_report_inputs(run_id=run_id):
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
