"""A finished run's report: accuracy as k grows and bias diagnostics, computed by a worker task."""

from __future__ import annotations

import pytest

from tests.factories import make_run
from workers import tasks

pytestmark = pytest.mark.django_db


def test_the_report_task_stores_curves_and_bias():
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
