"""The meta RM end to end: a real run of the default model, `metarm_train` on its judgments, scoring
through a real Celery worker, and MetaRM@k on the run page and in the API."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from reviews.models import MetaRmCheckpoint, Run, Sample, Verdict
from reviews.services.metarm import run_meta_request
from tests.conftest import wait_for
from tests.integration.test_runs_e2e import start_run

pytestmark = pytest.mark.integration


def test_a_meta_rm_trained_on_a_real_run_scores_it_through_a_worker(celery_workers, admin_client, capsys):
    celery_workers.start()
    # Score forcing gives every sample scores, so Eq. 10 labels the judgments both ways.
    run = start_run(
        k=4, max_tokens=16, temperature=0.8, batch_size=5, force_scores=True, query_filter={"subset": "chat"}
    )
    wait_for(lambda: not Run.objects.get(id=run.id).is_active, timeout=1200, interval=2, what="the run to end")
    run.refresh_from_db()
    assert run.status == Run.Status.DONE, run.error_message
    labels = set(Sample.objects.filter(run=run, parse_status="ok").values_list("correct", flat=True))
    assert labels == {True, False}, "the default model's forced judgments were all right or all wrong"

    call_command("metarm_train", "--run", str(run.id), "--wait", "--activate")
    checkpoint = MetaRmCheckpoint.objects.get(is_active=True)
    assert checkpoint.status == MetaRmCheckpoint.Status.READY, checkpoint.error_message
    assert {"roc_auc", "accuracy", "ece"} <= set(checkpoint.metrics)
    assert len(checkpoint.content_hash) == 64
    assert "ready at" in capsys.readouterr().out

    run_meta_request(run=run, k_meta=2)
    wait_for(
        lambda: Run.objects.get(id=run.id).meta_status in ("done", "failed"),
        timeout=600,
        interval=1,
        what="meta scoring",
    )
    run.refresh_from_db()
    assert run.meta_status == Run.MetaStatus.DONE, run.meta_error
    scorable = Sample.objects.filter(run=run, parse_status="ok")
    assert run.meta_scored == scorable.count() > 0
    assert not scorable.filter(meta_score__isnull=True).exists()
    assert not Verdict.objects.filter(run=run, meta_correct__isnull=True).exists()
    # The report is computed again with the MetaRM@k curve.
    wait_for(
        lambda: "metarm" in (Run.objects.get(id=run.id).report.get("scaling") or {}),
        timeout=120,
        what="the report",
    )

    page = admin_client.get(f"/runs/{run.id}/")
    assert page.status_code == 200
    assert b"MetaRM@k" in page.content
    api = admin_client.get(f"/api/v1/runs/{run.id}/").json()
    assert (api["meta_status"], api["k_meta"]) == ("done", 2)
    report = admin_client.get(f"/api/v1/runs/{run.id}/report/").json()
    assert [point["k"] for point in report["scaling"]["metarm"]] == [1, 2, 4]
    verdicts = admin_client.get(f"/api/v1/verdicts/?run={run.id}").json()["results"]
    assert all(verdict["meta_correct"] is not None for verdict in verdicts)
