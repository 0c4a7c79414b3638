"""The run pages: starting a run (admins only), its progress fragment, cancelling, and the report's chart."""

import pytest
from django.urls import reverse

from reviews.models import Run
from reviews.services.runs import run_claim
from tests.factories import make_run, start_run
from workers import tasks

pytestmark = pytest.mark.django_db


def test_only_admins_start_and_cancel_runs(demo, reviewer_client, admin_client):
    run = start_run(demo, query_filter={"subset": "chat"})
    assert reviewer_client.post(reverse("run-cancel", args=[run.id])).status_code == 403
    assert reviewer_client.get(reverse("run-new", args=["demo"])).status_code == 403
    assert reviewer_client.get(reverse("run-detail", args=[run.id])).status_code == 200
    assert admin_client.get(reverse("run-new", args=["demo"])).status_code == 200


def test_the_start_form_creates_a_run(demo, admin_client):
    _, template, model = demo
    response = admin_client.post(
        reverse("run-new", args=["demo"]),
        {
            "model_config": model.id,
            "template": template.id,
            "subset": "code",
            "k": 2,
            "temperature": 0.5,
            "max_tokens": 32,
            "seed": 1,
            "batch_size": 4,
        },
    )
    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("run-detail", args=[run.id])
    assert (run.k, run.queries_total, run.query_filter) == (2, 10, {"subset": "code"})
    bad = admin_client.post(
        reverse("run-new", args=["demo"]),
        {
            "model_config": model.id,
            "template": template.id,
            "k": 0,
            "temperature": 0.5,
            "max_tokens": 32,
            "seed": 1,
            "batch_size": 4,
        },
    )
    assert bad.status_code == 400
    assert b"Ensure this value is greater than or equal to 1" in bad.content


def test_the_cancel_button_cancels_the_run(demo, admin_client):
    run = start_run(demo, query_filter={"subset": "chat"}, k=2, batch_size=5)
    run_claim(run_id=run.id)
    assert admin_client.post(reverse("run-cancel", args=[run.id])).status_code == 302
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED


def test_a_running_runs_progress_fragment_polls(demo, reviewer_client):
    run = start_run(demo, query_filter={"subset": "chat"})
    page = reviewer_client.get(reverse("run-detail", args=[run.id])).content.decode()
    assert f'hx-get="{reverse("run-progress", args=[run.id])}"' in page
    assert 'hx-trigger="every 2s"' in page


def test_a_finished_runs_progress_fragment_stops_polling_and_shows_accuracy(reviewer_client):
    _, run = make_run(queries=2, k=2)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, queries_total=2, queries_done=2)
    page = reviewer_client.get(reverse("run-progress", args=[run.id])).content.decode()
    assert "hx-trigger" not in page
    assert "Voting@2 accuracy" in page
    assert 'id="subset-accuracy"' in page


def test_the_run_page_draws_the_report(reviewer_client):
    _, run = make_run(queries=3, k=4)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, meta_status=Run.MetaStatus.DONE)
    tasks.run_report(run.pk)
    page = reviewer_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert 'id="accuracy-chart"' in page
    assert page.count("<polyline") == 2
    assert "Voting@k" in page
    assert "MetaRM@k" in page
    assert 'id="bias"' in page
    assert "the response shown first, when it is not the labelled best" in page
