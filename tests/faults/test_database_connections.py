"""A worker's PostgreSQL connections killed mid-batch (`pg_terminate_backend`, as a database restart or
a failover does): the batch is tried again on a new connection and the run finishes, nothing doubled,
each retry in the run's error log (issue 14)."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from reviews.models import Dataset, Run, RunEvent, Sample
from reviews.services.configs import defaults_ensure, model_config_for
from reviews.services.datasets import demo_load
from reviews.services.runs import run_create
from tests.conftest import wait_for
from tests.faults.conftest import assert_exactly_k_per_query, wait_for_run
from tests.openai_server import Script, openai_server

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def terminate_other_connections() -> int:
    """End every other session on the test database: the worker's (its task and its heartbeat thread)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def test_killed_database_connections_mid_batch_are_retried_and_the_run_finishes(celery_workers):
    demo_load()
    template, _ = defaults_ensure()
    with openai_server(Script(delay=0.8)) as url:
        judge = model_config_for(backend="openai", model="judge", base_url=url)
        # No watchdog and a long stall timeout: the task's own retry must carry the run, nothing else.
        celery_workers.start(GRM_RUN_STALL_SECONDS="600")
        demo = Dataset.objects.get(name="demo")
        run = run_create(
            dataset=demo, model_config=judge, template=template, k=2, batch_size=4, query_filter={"subset": "chat"}
        )
        wait_for(lambda: Sample.objects.filter(run=run).exists(), timeout=300, what="a first stored part")
        killed = 0
        for _ in range(3):  # three times, a part apart: each lands while a batch generates
            wait_for(
                lambda: Run.objects.get(id=run.id).phase == Run.Phase.GENERATING, timeout=60, what="a batch generating"
            )
            time.sleep(0.3)
            killed += terminate_other_connections()
            if not Run.objects.get(id=run.id).is_active:
                break
            time.sleep(1.5)
        done = wait_for_run(run.id, timeout=400)

    assert killed >= 1
    assert_exactly_k_per_query(done)
    retried = RunEvent.objects.filter(run=run, kind=RunEvent.Kind.BATCH_RETRIED)
    assert retried.exists(), list(RunEvent.objects.filter(run=run).values_list("message", flat=True))
    assert all("the database connection was lost" in event.message for event in retried)
    assert not RunEvent.objects.filter(run=run, kind=RunEvent.Kind.BATCH_FAILED).exists()
