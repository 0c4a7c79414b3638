"""Runs end to end: the real default model in a real Celery worker, and a worker killed mid-run."""

import os
import signal
from collections import Counter

import pytest

from reviews.models import Dataset, Query, Run, Sample, Verdict
from reviews.selectors.runs import run_queries
from reviews.services.configs import defaults_ensure
from reviews.services.datasets import demo_load
from reviews.services.runs import run_create
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def start_run(**options):
    demo_load()
    template, model = defaults_ensure()
    dataset = Dataset.objects.get(name="demo")
    return run_create(dataset=dataset, model_config=model, template=template, **options)


def assert_complete(run, k):
    run.refresh_from_db()
    assert run.status == Run.Status.DONE, run.error_message
    per_query = Counter(Sample.objects.filter(run=run).values_list("query_id", flat=True))
    queries = run_queries(dataset=run.dataset, query_filter=run.query_filter)
    assert set(per_query) == set(queries.values_list("id", flat=True))
    assert set(per_query.values()) == {k}
    assert Verdict.objects.filter(run=run).count() == queries.count() == run.queries_done
    statuses = set(Sample.objects.filter(run=run).values_list("parse_status", flat=True))
    assert statuses <= set(Sample.ParseStatus.values)
    assert run.samples_done == k * queries.count()


def test_the_default_model_judges_the_demo_dataset_through_a_celery_worker(celery_workers):
    celery_workers.start()
    run = start_run(k=2, max_tokens=6, temperature=0.5, batch_size=8)
    wait_for(lambda: not Run.objects.get(id=run.id).is_active, timeout=1200, interval=2, what="the run to end")
    assert_complete(run, k=2)
    assert run.queries_total == Query.objects.filter(dataset__name="demo").count() >= 30
    assert run.tokens_generated > 0
    assert run.generation_seconds > 0


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(celery_workers):
    first = celery_workers.start()
    run = start_run(k=2, max_tokens=4, temperature=0.5, batch_size=2, query_filter={"subset": "chat"})
    wait_for(lambda: Sample.objects.filter(run=run).exists(), timeout=600, interval=0.5, what="a first batch")
    assert Run.objects.get(id=run.id).is_active
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_when_killed = Verdict.objects.filter(run=run).count()
    assert done_when_killed < run.queries_total
    # A new worker finds the run stalled (its tasks died with the old worker) and resumes it.
    celery_workers.start(GRM_RUN_STALL_SECONDS="0")
    wait_for(lambda: not Run.objects.get(id=run.id).is_active, timeout=900, interval=1, what="the run to end")
    assert_complete(run, k=2)
