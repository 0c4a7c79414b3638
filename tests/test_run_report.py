"""A finished run's report: accuracy as k grows and bias diagnostics, computed by a worker task."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews import run_services
from reviews.models import Run
from tests.test_queues import make_run
from workers import tasks

pytestmark = pytest.mark.django_db


def test_the_report_task_stores_curves_and_bias_and_the_run_page_draws_them(reviewer_client):
    _, run = make_run(queries=3, k=4)
    report = tasks.run_report(run.pk)
    assert report["labelled_queries"] == 3
    assert set(report["voting_curve"]) == {"1", "2", "4"}
    # Two queries are right in every sample; the third has one wrong sample of four.
    assert report["voting_curve"]["1"] == pytest.approx((1 + 1 + 0.75) / 3)
    assert report["voting_curve"]["4"] == pytest.approx(1.0)
    assert "meta_curve" in report  # the factories give every sample a meta score
    assert report["bias"]["first_shown_wins"]["total"] == 12
    run.refresh_from_db()
    assert run.report == report
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE)
    page = reviewer_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert 'id="accuracy-chart"' in page
    assert page.count("<polyline") == 2
    assert "Voting@k" in page
    assert "MetaRM@k" in page
    assert 'id="bias"' in page
    assert "the response shown first, when it is not the labelled best" in page


def test_the_report_is_queued_once_when_the_run_finishes(monkeypatch, django_capture_on_commit_callbacks):
    _, run = make_run(queries=2, k=1)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, queries_total=2)
    sent: list[int] = []
    monkeypatch.setattr("workers.tasks.run_report.delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        run_services.run_refresh_progress(run_id=run.pk)
        run_services.run_refresh_progress(run_id=run.pk)
    assert sent == [run.pk]
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
