"""A finished run's report: accuracy as k grows and bias diagnostics, computed by a worker task."""

from __future__ import annotations

import pytest

from reviews.models import Run
from tests.factories import (
    QueryFactory,
    ResponseFactory,
    RunFactory,
    SampleFactory,
    TemplateFactory,
    VerdictFactory,
    make_run,
)
from workers import tasks

pytestmark = pytest.mark.django_db


def test_the_report_task_stores_curves_and_bias():
    _, run = make_run(queries=3, k=4)
    Run.objects.filter(pk=run.pk).update(meta_status=Run.MetaStatus.DONE)
    report = tasks.run_report(run.pk)
    assert report["labelled_queries"] == 3
    scaling = report["scaling"]
    assert (scaling["mode"], scaling["metric"], scaling["ks"]) == ("best", "accuracy", [1, 2, 4])
    voting = {point["k"]: point for point in scaling["voting"]}
    # Two queries are right in every sample; the third has one wrong sample of four.
    assert voting[1]["value"] == pytest.approx((1 + 1 + 0.75) / 3)
    assert voting[4]["value"] == pytest.approx(1.0)
    assert voting[1]["low"] <= voting[1]["value"] <= voting[1]["high"]
    assert "metarm" in scaling  # the factories give every sample a meta score
    assert scaling["meta_keep"] == [1, 2]  # no k_meta: the paper's k/2
    assert report["bias"]["first_shown_wins"]["total"] == 12
    run.refresh_from_db()
    assert run.report == report


def test_metarm_is_reported_only_from_a_finished_scoring_with_the_runs_k_meta():
    _, run = make_run(queries=2, k=4)
    Run.objects.filter(pk=run.pk).update(meta_status=Run.MetaStatus.SCORING)
    assert "metarm" not in tasks.run_report(run.pk)["scaling"]  # scores half written, or another checkpoint's
    Run.objects.filter(pk=run.pk).update(meta_status=Run.MetaStatus.DONE, k_meta=1)
    assert tasks.run_report(run.pk)["scaling"]["meta_keep"] == [1, 4]


def test_a_single_response_run_is_reported_as_roc_auc():
    template = TemplateFactory.create(name="single", score_low=0, score_high=1, single_response=True)
    run = RunFactory.create(k=2, template=template)
    # Two correct responses the samples score 1 and 1 / 1 and 0; two wrong ones scored 0 and 0 / 1 and 0.
    for label, scores in ((1, [1, 1]), (1, [1, 0]), (0, [0, 0]), (0, [1, 0])):
        query = QueryFactory.create(dataset=run.dataset, best_index=None, rating=label)
        ResponseFactory.create(query=query, position=0)
        for index, score in enumerate(scores):
            SampleFactory.create(run=run, query=query, sample_index=index, permutation=[0], scores=[score])
        VerdictFactory.create(run=run, query=query, vote_totals=[sum(scores)], best_index=0)
    scaling = tasks.run_report(run.pk)["scaling"]
    assert (scaling["mode"], scaling["metric"]) == ("single", "roc_auc")
    at_k2 = {point["k"]: point for point in scaling["voting"]}[2]
    # Voted scores 1, 0.5 (positives) against 0, 0.5 (negatives): 4 pairs, 3 won, 1 tied -> 3.5 / 4.
    assert at_k2["value"] == pytest.approx(0.875)
