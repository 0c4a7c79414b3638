"""Writes for the workers' heartbeats (reviews.models.WorkerHeartbeat)."""

from __future__ import annotations

from django.utils import timezone

from reviews.models import WorkerHeartbeat


def worker_heartbeat(*, name: str, queues: str, pid: int) -> None:
    """Say that worker `name` is alive now (the first beat records when it started)."""
    now = timezone.now()
    alive = {"queues": queues[:200], "pid": pid, "seen_at": now}
    WorkerHeartbeat.objects.update_or_create(
        name=name[:200], defaults=alive, create_defaults={**alive, "started_at": now}
    )


def worker_stopped(*, name: str) -> None:
    """A worker that stops cleanly is no longer expected: its heartbeat goes."""
    WorkerHeartbeat.objects.filter(name=name[:200]).delete()
