"""The run page's report: the scaling curves with their bands, the chance and greedy lines, the per-subset
table, the downloads, the old-format notice, and meta scoring (status, the admin's form)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from reviews.enqueue import METARM_SCORE, RUN_REPORT
from reviews.models import MetaRmCheckpoint, Run
from reviews.selectors.reports import report_rows
from reviews.services.metarm import checkpoint_activate, checkpoint_register
from tests.factories import QueryFactory, ResponseFactory, RunFactory, VerdictFactory, make_run
from tests.pages.reports import XSS_SUBSET, old_report, scaling_report

pytestmark = pytest.mark.django_db


def finished_run(report: dict | None = None, **fields) -> Run:
    """make_run's judged run (3 labelled queries, two responses each, k = 4), ended, with this report."""
    _, run = make_run(queries=3, k=4)
    fields = {"status": Run.Status.DONE, "samples_done": 12, "queries_total": 3, "queries_done": 3, **fields}
    Run.objects.filter(pk=run.pk).update(report=report if report is not None else scaling_report(), **fields)
    run.refresh_from_db()
    return run


def page_of(client, run: Run, **params) -> str:
    response = client.get(reverse("run-detail", args=[run.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_run_page_draws_the_curves_with_bands_error_bars_and_a_fixed_y_axis(reviewer_client):
    run = finished_run()
    page = page_of(reviewer_client, run)
    assert 'id="accuracy-chart"' in page
    assert page.count("<polyline") == 2
    assert 'class="band s1"' in page
    assert 'class="band s2"' in page
    assert page.count('class="error-bar') == 2  # k = 4 was sampled in both curves
    assert "Voting@k" in page
    assert "MetaRM@k" in page
    # y runs from 0 to 1 whatever the data (0.55..0.8 here).
    assert ">0.00</text>" in page
    assert ">1.00</text>" in page
    assert 'id="bias"' in page
    assert 'id="compare-link"' in page
    assert f'href="{reverse("run-report-csv", args=[run.pk])}"' in page


def test_the_chance_line_is_the_mean_of_one_over_the_responses_of_the_labelled_queries(reviewer_client):
    run = finished_run()
    four = QueryFactory.create(dataset=run.dataset, best_index=0)
    for position in range(4):
        ResponseFactory.create(query=four, position=position)
    VerdictFactory.create(run=run, query=four)
    unlabelled = QueryFactory.create(dataset=run.dataset, best_index=None)  # left out: it has no label
    for position in range(3):
        ResponseFactory.create(query=unlabelled, position=position)
    VerdictFactory.create(run=run, query=unlabelled, correct=None)
    page = page_of(reviewer_client, run)
    # (1/2 + 1/2 + 1/2 + 1/4) / 4
    assert "chance 0.438" in page
    assert 'class="reference chance"' in page
    assert 'y1="141.1"' in page  # 0.4375 on the fixed 0-1 axis


def test_roc_auc_reports_have_the_chance_line_at_one_half(reviewer_client):
    page = page_of(reviewer_client, finished_run(scaling_report(metric="roc_auc")))
    assert "ROC-AUC as k grows" in page
    assert "chance 0.500" in page


def test_a_finished_greedy_run_of_the_same_queries_is_drawn_and_linked(reviewer_client):
    run = finished_run()
    assert "greedy run" not in page_of(reviewer_client, run)
    same = {"dataset": run.dataset, "model_config": run.model_config, "template": run.template, "temperature": 0}
    greedy = RunFactory.create(**same, status=Run.Status.DONE, k=1)
    for query, correct in zip(run.dataset.queries.order_by("id"), [True, True, False], strict=True):
        VerdictFactory.create(run=greedy, query=query, correct=correct)
    # Neither another filter, nor a greedy run still going, nor another model's greedy run is the baseline.
    RunFactory.create(**same, status=Run.Status.DONE, query_filter={"subset": "x"})
    RunFactory.create(**same, status=Run.Status.RUNNING)
    RunFactory.create(dataset=run.dataset, template=run.template, temperature=0, status=Run.Status.DONE)
    page = page_of(reviewer_client, run)
    assert f'<a href="{reverse("run-detail", args=[greedy.pk])}" id="greedy-link">greedy run #{greedy.pk}</a>' in page
    assert 'class="reference baseline"' in page
    assert "0.667" in page


def test_the_subsets_table_shows_each_curve_and_band_and_escapes_subset_names(reviewer_client):
    run = finished_run()
    page = page_of(reviewer_client, run)
    table = page[page.index('id="subset-curves"') :]
    assert '<th class="num">k = 4</th>' in table
    assert '0.610 <span class="band">[0.550, 0.670]</span>' in table
    assert "±0.004" in table  # the sampled point's Monte Carlo error
    assert '0.800 <span class="band">[0.700, 0.900]</span>' in table  # subset chat, k = 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert XSS_SUBSET not in page


def test_a_subsets_curves_are_charted_with_its_name_escaped(reviewer_client):
    run = finished_run()
    page = page_of(reviewer_client, run, subset=XSS_SUBSET)
    chart = page[page.index('id="accuracy-chart"') : page.index("</svg>")]
    assert "<title>accuracy against k (log2 axis), subset &lt;script&gt;alert(1)&lt;/script&gt;</title>" in chart
    assert 'id="chart-subset">&lt;script&gt;alert(1)&lt;/script&gt;</span>' in chart
    assert chart.count("<polyline") == 1  # that subset has no MetaRM@k curve
    assert XSS_SUBSET not in page


def test_an_old_report_is_drawn_and_admins_can_recompute_it(
    reviewer_client, admin_client, sent_tasks, django_capture_on_commit_callbacks
):
    run = finished_run(old_report())
    page = page_of(reviewer_client, run)
    assert 'id="old-report"' in page
    assert page.count("<polyline") == 2
    assert "Recompute the report" not in page
    assert reviewer_client.post(reverse("run-report-recompute", args=[run.pk])).status_code == 403
    assert "Recompute the report" in page_of(admin_client, run)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("run-report-recompute", args=[run.pk]))
    assert response.status_code == 302
    assert sent_tasks.ids(RUN_REPORT) == [run.pk]


def test_recomputing_the_report_of_a_run_still_going_is_refused_with_a_message(admin_client, sent_tasks):
    run = finished_run(old_report(), status=Run.Status.RUNNING)
    response = admin_client.post(reverse("run-report-recompute", args=[run.pk]), follow=True)
    assert response.status_code == 200
    assert "its report is computed when it ends" in response.content.decode()
    assert sent_tasks == []


def test_the_downloads_are_the_stored_report(reviewer_client):
    report = scaling_report()
    run = finished_run(report)
    as_json = reviewer_client.get(reverse("run-report-json", args=[run.pk]))
    assert as_json["Content-Disposition"] == f'attachment; filename="run-{run.pk}-report.json"'
    assert json.loads(as_json.content) == report
    as_csv = reviewer_client.get(reverse("run-report-csv", args=[run.pk]))
    assert as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert len(rows) == 3 + 3 + 1 + 1 + 2  # all: voting, metarm; chat: voting, metarm; the XSS subset: voting
    assert rows[0] == {
        "subset": "",
        "curve": "voting",
        "k": "1",
        "value": "0.61",
        "low": "0.55",
        "high": "0.67",
        "stderr": "",
        "exact": "true",
    }
    parsed = [
        (r["subset"], r["curve"], int(r["k"]), float(r["value"]), float(r["low"]), float(r["high"])) for r in rows
    ]
    assert parsed == [row[:6] for row in report_rows(report)]
    sampled = next(r for r in rows if r["subset"] == "" and r["curve"] == "metarm" and r["k"] == "4")
    assert (sampled["stderr"], sampled["exact"]) == ("0.005", "false")


def test_a_subset_name_a_spreadsheet_would_run_is_kept_as_text_in_the_csv(reviewer_client):
    report = scaling_report(subsets={"=HYPERLINK(1)": {"queries": 1, "voting": [{"k": 1, "value": 1.0}]}})
    run = finished_run(report)
    rows = list(
        csv.DictReader(io.StringIO(reviewer_client.get(reverse("run-report-csv", args=[run.pk])).content.decode()))
    )
    assert rows[-1]["subset"] == "'=HYPERLINK(1)"


def test_a_malformed_report_is_no_500(reviewer_client):
    run = finished_run({"version": 2, "scaling": {"ks": 5, "voting": [{"k": "x"}, 3], "subsets": [1]}, "bias": 7})
    page = page_of(reviewer_client, run)
    assert 'id="accuracy-chart"' not in page
    assert reviewer_client.get(reverse("run-report-csv", args=[run.pk])).content.decode().count("\n") == 1


# --- Meta RM on the run page


@pytest.fixture
def active_checkpoint(db) -> MetaRmCheckpoint:
    checkpoint = checkpoint_register(name="metarm-a", location="/models/metarm-a")
    checkpoint_activate(checkpoint=checkpoint)
    checkpoint.refresh_from_db()
    return checkpoint


def test_the_meta_status_polls_while_scoring_and_shows_progress(reviewer_client, active_checkpoint):
    run = finished_run(meta_status=Run.MetaStatus.SCORING, meta_checkpoint=active_checkpoint)
    run.samples.filter(sample_index__lt=2).update(meta_score=1.5)
    run.samples.filter(sample_index__gte=2).update(meta_score=None)
    page = page_of(reviewer_client, run)
    assert f'hx-get="{reverse("run-meta", args=[run.pk])}"' in page
    assert "6 of 12 samples scored" in page
    assert f'href="{reverse("metarm")}#checkpoint-metarm-a"' in page
    assert '2 <span class="muted">(k/2)</span>' in page
    fragment = reviewer_client.get(reverse("run-meta", args=[run.pk])).content.decode()
    assert fragment.startswith('<section id="run-meta"')
    assert "hx-trigger" in fragment


def test_meta_scoring_done_stops_polling_and_shows_metarm_beside_voting(reviewer_client, active_checkpoint):
    run = finished_run(meta_status=Run.MetaStatus.DONE, meta_checkpoint=active_checkpoint, k_meta=2, meta_scored=12)
    run.verdicts.update(meta_correct=True)
    fragment = reviewer_client.get(reverse("run-meta", args=[run.pk])).content.decode()
    assert "hx-trigger" not in fragment
    assert 'id="meta-accuracy">1.000</dd>' in fragment
    assert "Voting@4" in fragment


def test_a_failed_meta_scoring_shows_its_error(reviewer_client, active_checkpoint):
    run = finished_run(
        meta_status=Run.MetaStatus.FAILED, meta_checkpoint=active_checkpoint, meta_error="<b>out of memory</b>"
    )
    page = page_of(reviewer_client, run)
    assert 'id="meta-error">&lt;b&gt;out of memory&lt;/b&gt;</pre>' in page
    assert 'hx-get="' + reverse("run-meta", args=[run.pk]) not in page


def test_admins_meta_score_a_run_from_its_page(
    admin_client, reviewer_client, active_checkpoint, sent_tasks, django_capture_on_commit_callbacks
):
    run = finished_run()
    page = page_of(admin_client, run)
    assert 'id="meta-score"' in page
    assert 'placeholder="2"' in page  # k/2
    assert '<option value="metarm-a" selected>metarm-a (active)</option>' in page
    assert 'id="meta-score"' not in page_of(reviewer_client, run)
    url = reverse("run-meta-score", args=[run.pk])
    assert reviewer_client.post(url, {"checkpoint": "metarm-a", "k_meta": 2}).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"checkpoint": "metarm-a", "k_meta": 3})
    assert response.status_code == 302
    assert response["Location"] == reverse("run-detail", args=[run.pk])
    run.refresh_from_db()
    assert (run.meta_status, run.k_meta, run.meta_checkpoint) == (Run.MetaStatus.QUEUED, 3, active_checkpoint)
    assert sent_tasks.ids(METARM_SCORE) == [run.pk]


def test_a_bad_k_meta_is_shown_on_the_page_with_the_input_kept(admin_client, active_checkpoint, sent_tasks):
    run = finished_run()
    response = admin_client.post(reverse("run-meta-score", args=[run.pk]), {"checkpoint": "metarm-a", "k_meta": 5})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ensure this value is less than or equal to 4." in page
    assert 'value="5"' in page
    assert sent_tasks == []
    run.refresh_from_db()
    assert run.meta_status == Run.MetaStatus.NONE


def test_service_refusals_are_shown_as_form_errors(admin_client, sent_tasks):
    run = finished_run()
    url = reverse("run-meta-score", args=[run.pk])
    page = admin_client.post(url, {"k_meta": 2}).content.decode()  # no checkpoint is active
    assert "no meta RM checkpoint is active" in page
    checkpoint_register(name="metarm-b", location="/models/b")
    Run.objects.filter(pk=run.pk).update(meta_status=Run.MetaStatus.SCORING)
    page = admin_client.post(url, {"checkpoint": "metarm-b"}).content.decode()
    assert "is being meta scored already" in page
    assert 'id="meta-score-errors"' in page
    assert admin_client.post(url, {"checkpoint": "no-such\x00"}).status_code == 200
    assert sent_tasks == []


def test_the_run_form_takes_k_meta_and_a_checkpoint(demo, admin_client, active_checkpoint, sent_tasks):
    _, template, model = demo
    training = MetaRmCheckpoint.objects.create(name="still-training", status=MetaRmCheckpoint.Status.TRAINING)
    form = admin_client.get(reverse("run-new", args=["demo"])).content.decode()
    assert 'name="k_meta"' in form
    assert '<option value="metarm-a">metarm-a (active)</option>' in form
    assert training.name not in form
    base = {"model_config": model.id, "template": template.id, "subset": "code", "k": 4, "temperature": 0.5}
    base |= {"max_tokens": 32, "seed": 1, "batch_size": 4}
    too_many = admin_client.post(reverse("run-new", args=["demo"]), {**base, "k_meta": 5})
    assert "k_meta must be from 1 to k (4)." in too_many.content.decode()
    response = admin_client.post(reverse("run-new", args=["demo"]), {**base, "k_meta": 2})
    assert response.status_code == 302
    run = Run.objects.get()
    assert (run.k_meta, run.meta_checkpoint, run.meta_status) == (2, active_checkpoint, Run.MetaStatus.WAITING)
    response = admin_client.post(reverse("run-new", args=["demo"]), {**base, "meta_checkpoint": "metarm-a"})
    assert response.status_code == 302
    assert Run.objects.order_by("-pk")[0].meta_checkpoint == active_checkpoint
