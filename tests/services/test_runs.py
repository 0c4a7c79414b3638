"""Run services: creation and its limits, cancelling, resuming stalled runs, the report queued on finishing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.enqueue import RUN_REPORT, RUN_START
from reviews.errors import RunInvalid
from reviews.models import ModelConfig, Run
from reviews.services.configs import model_config_for
from reviews.services.runs import run_cancel, run_claim, run_refresh_progress, runs_resume_stalled
from tests.factories import make_run, start_run

pytestmark = pytest.mark.django_db


def test_run_create_counts_queries_and_enqueues_on_commit(demo, django_capture_on_commit_callbacks, sent_tasks):
    with django_capture_on_commit_callbacks(execute=True):
        run = start_run(demo, query_filter={"subset": "chat"})
    assert run.queries_total == 10
    assert run.status == Run.Status.QUEUED
    assert sent_tasks.ids(RUN_START) == [run.id]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 0}, "k must be from 1 to 64"),
        ({"temperature": 3.0}, "temperature must be"),
        ({"max_tokens": 0}, "max_tokens must be"),
        ({"query_filter": {"subset": "nope"}}, "no queries"),
        ({"query_filter": {"label": 1}}, "query_filter accepts subset, ids and sample"),
        ({"k": 4, "k_meta": 5}, "k_meta must be"),
    ],
)
def test_bad_run_parameters_are_refused_by_name(demo, options, message):
    with pytest.raises(RunInvalid, match=message):
        start_run(demo, **options)
    assert Run.objects.count() == 0


def test_seeds_must_fit_the_database(demo):
    with pytest.raises(RunInvalid, match="seed"):
        start_run(demo, seed=2**64)


def test_a_run_is_cancelled_once(demo):
    run = start_run(demo, query_filter={"subset": "chat"}, k=2, batch_size=5)
    run_claim(run_id=run.id)
    assert run_cancel(run=run)
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert not run_cancel(run=run)


def test_stalled_runs_are_resumed_once(demo, django_capture_on_commit_callbacks, sent_tasks):
    run = start_run(demo, query_filter={"subset": "chat"})
    run_claim(run_id=run.id)
    Run.objects.filter(id=run.id).update(updated_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert runs_resume_stalled(stalled_for=timedelta(minutes=5)) == [run.id]
        assert runs_resume_stalled(stalled_for=timedelta(minutes=5)) == []
    assert sent_tasks.ids(RUN_START) == [run.id]


def test_the_report_is_queued_once_when_the_run_finishes(sent_tasks, django_capture_on_commit_callbacks):
    _, run = make_run(queries=2, k=1)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, queries_total=2)
    with django_capture_on_commit_callbacks(execute=True):
        run_refresh_progress(run_id=run.pk)
        run_refresh_progress(run_id=run.pk)
    assert sent_tasks.ids(RUN_REPORT) == [run.pk]
    run.refresh_from_db()
    assert run.status == Run.Status.DONE


def test_model_configs_for_the_cli_are_reused(db):
    first = model_config_for(backend="openai", model="org/judge-27b", base_url="http://x/v1")
    again = model_config_for(backend="openai", model="org/judge-27b", base_url="http://x/v1")
    other = model_config_for(backend="openai", model="org/judge-27b", base_url="http://y/v1")
    assert first == again
    assert first.name == "openai-judge-27b"
    assert other.name == "openai-judge-27b-2"
    assert ModelConfig.objects.count() == 2
