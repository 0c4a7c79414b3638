"""The closed loop end to end: an upload over HTTP ingested by a real worker, a run of the default model,
judgments reviewed in Chromium, `rft_sft` and `metarm` releases built by the worker, and a meta RM
trained from the metarm release."""

from __future__ import annotations

import http.client
import json

import pytest
from django.core.management import call_command

from reviews.models import Annotation, Dataset, MetaRmCheckpoint, Release, Run, Sample, Upload
from reviews.selectors.releases import release_rows
from reviews.services.accounts import api_token_create
from reviews.services.configs import defaults_ensure
from reviews.services.datasets import DEMO_FILE
from reviews.services.releases import release_create
from reviews.services.runs import run_create
from tests.browser.conftest import log_in, review_queue
from tests.browser.test_review import answer_by_key
from tests.conftest import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def upload(live_server, token: str, body: bytes) -> Upload:
    host, port = live_server.thread.host, live_server.thread.port
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request(
        "POST",
        "/api/v1/uploads/?dataset=loop&format=native",
        body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    answer = conn.getresponse()
    assert answer.status == 202, answer.read()
    upload_id = json.loads(answer.read())["id"]
    return wait_for(
        lambda: Upload.objects.filter(pk=upload_id, status__in=Upload.ENDED).first(),
        timeout=120,
        what="the worker to ingest the upload",
    )


def built(release: Release) -> Release:
    done = wait_for(
        lambda: Release.objects.filter(pk=release.pk, status__in=["ready", "failed"]).first(),
        timeout=300,
        what=f"the worker to build {release}",
    )
    assert done.status == Release.Status.READY, done.error_message
    return done


def test_upload_run_review_release_and_train_a_meta_rm(
    live_server, celery_workers, page, admin_user, reviewer_user, settings, tmp_path
):
    settings.GRM_UPLOAD_DIR = tmp_path / "uploads"
    settings.GRM_RELEASE_DIR = tmp_path / "releases"
    celery_workers.start(GRM_UPLOAD_DIR=str(settings.GRM_UPLOAD_DIR), GRM_RELEASE_DIR=str(settings.GRM_RELEASE_DIR))
    _, token = api_token_create(user=admin_user, name="loop")
    # The demo's chat queries: short enough for the default model on two cores.
    lines = [line for line in DEMO_FILE.read_text().splitlines() if json.loads(line)["subset"] == "chat"]
    assert upload(live_server, token, "\n".join(lines).encode()).status == "done"

    # Score forcing gives every sample scores, so Eq. 10 accepts some judgments and rejects others.
    template, model = defaults_ensure()
    run = run_create(
        dataset=Dataset.objects.get(name="loop"),
        model_config=model,
        template=template,
        k=4,
        max_tokens=16,
        temperature=0.8,
        force_scores=True,
        batch_size=5,
        created_by=admin_user,
    )
    wait_for(lambda: not Run.objects.get(id=run.id).is_active, timeout=1200, interval=2, what="the run to end")
    run.refresh_from_db()
    assert run.status == Run.Status.DONE, run.error_message
    assert set(Sample.objects.filter(run=run).values_list("correct", flat=True)) == {True, False}

    # A reviewer rejects the first judgment shown and accepts the next two, by keyboard.
    queue = review_queue(run)
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    answer_by_key(page, "r")
    answer_by_key(page, "a")
    answer_by_key(page, "a")
    rejected = Annotation.objects.get(reviewer=reviewer_user, decision="reject").sample
    assert rejected is not None
    rejected.refresh_from_db()
    assert (rejected.decision, rejected.decision_reason, rejected.decision_source) == (
        "reject",
        "reviewer_reject",
        "reviewer",
    )

    sft = built(release_create(kind="rft_sft", filters={"run": [run.id]}, created_by=admin_user))
    accepted = Sample.objects.filter(run=run, decision="accept")
    assert sft.counts["rows"] + sft.counts["duplicates_dropped"] == accepted.count() > 0
    assert all(row["completion"][0]["role"] == "assistant" for row in release_rows(sft))
    assert rejected.raw_text not in {row["completion"][0]["content"] for row in release_rows(sft)}

    meta = built(release_create(kind="metarm", filters={"run": [run.id]}, created_by=admin_user))
    labels = {(row["query_id"], row["sample_index"]): row for row in release_rows(meta)}
    reviewed = labels.get((rejected.query.external_id, rejected.sample_index))
    if reviewed is not None:  # kept unless another judgment had the same text (a duplicate)
        assert (reviewed["label"], reviewed["source"]) == (False, "reviewer")
    assert set(meta.counts["by_label"]) == {"true", "false"}

    call_command("metarm_train", "--release", str(meta.id), "--wait")
    checkpoint = MetaRmCheckpoint.objects.get(trained_on_release=meta)
    assert checkpoint.status == MetaRmCheckpoint.Status.READY, checkpoint.error_message
    assert checkpoint.training_examples == meta.counts["rows"]
    assert list(checkpoint.trained_on_runs.values_list("id", flat=True)) == [run.id]
