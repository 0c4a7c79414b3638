"""A real Celery worker says it is alive: `/healthz` lists it with the age of its last heartbeat, the age
stays under the interval while it runs, and a worker stopped cleanly leaves the list (issue 14)."""

from __future__ import annotations

import pytest
from django.test import Client

from reviews.models import WorkerHeartbeat
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def test_healthz_lists_a_running_worker_with_a_fresh_heartbeat_and_forgets_it_when_it_stops(celery_workers):
    worker = celery_workers.start(GRM_WORKER_HEARTBEAT_SECONDS="1")
    beat = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=120, what="the worker's first heartbeat")
    assert beat.queues == "cpu,gpu"
    first_seen = beat.seen_at
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(seen_at__gt=first_seen).exists(), timeout=30, what="a later heartbeat"
    )
    body = Client().get("/healthz").json()
    (listed,) = body["workers"]
    assert listed["name"] == beat.name
    assert listed["age_seconds"] < 10
    assert listed["stale"] is False

    worker.terminate()  # a warm shutdown, as `docker compose stop` asks
    worker.wait(timeout=60)
    assert not WorkerHeartbeat.objects.exists()
    assert Client().get("/healthz").json()["workers"] == []
