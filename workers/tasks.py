"""Celery tasks: thin entry points that load ids, call a service and record the outcome.

Heavy libraries load inside the worker, once per process: `backend_for` keeps one backend per
model configuration. GPU-queue tasks are named `gpu_*` (routed by settings.CELERY_TASK_ROUTES).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import connection

from reviews import run_services
from reviews.models import Dataset, ModelConfig, Run
from workers.backends.base import Backend, PermanentBackendError, TransientBackendError, load_backend

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
    """The backend for a model configuration, loaded on first use and kept for the process's life."""
    key = json.dumps(
        [model_config.backend, model_config.model, model_config.base_url, model_config.generation_params],
        sort_keys=True,
    )
    if key not in _BACKENDS:
        logger.info("loading %s backend for %s", model_config.backend, model_config.model)
        _BACKENDS[key] = load_backend(
            model_config.backend,
            model_config.model,
            base_url=model_config.base_url,
            options=model_config.generation_params,
        )
    return _BACKENDS[key]


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
    run = Run.objects.select_related("model_config").get(id=run_id)
    if not run.is_active:
        return 0
    try:
        return run_services.run_judge_batch(run_id=run_id, query_ids=query_ids, backend=backend_for(run.model_config))
    except TransientBackendError as exc:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
        message = f"{exc} (gave up after {MAX_RETRIES} retries)"
    except PermanentBackendError as exc:
        message = str(exc)
    run_services.run_batch_failed(run_id=run_id, query_ids=query_ids, message=message)
    return 0


@worker_ready.connect
def resume_stalled_runs(**kwargs: Any) -> None:
    """A worker that starts picks up runs whose tasks died with another worker."""
    run_services.runs_resume_stalled(stalled_for=timedelta(seconds=settings.GRM_RUN_STALL_SECONDS))
