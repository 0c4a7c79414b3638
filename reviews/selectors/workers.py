"""Reads for the workers' heartbeats: what `/healthz` reports."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from reviews.models import WorkerHeartbeat

STALE_AFTER_BEATS = 3  # a worker silent for three heartbeats is reported stale


@dataclass(frozen=True)
class WorkerHealth:
    name: str
    queues: str
    age_seconds: float
    stale: bool


def workers_health() -> list[WorkerHealth]:
    """Each worker that has said it is alive, with the seconds since it last did."""
    now = timezone.now()
    limit = STALE_AFTER_BEATS * settings.GRM_WORKER_HEARTBEAT_SECONDS
    health = []
    for beat in WorkerHeartbeat.objects.all():
        age = max(0.0, (now - beat.seen_at).total_seconds())
        health.append(WorkerHealth(beat.name, beat.queues, round(age, 1), age > limit))
    return health
