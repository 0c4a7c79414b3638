"""The API's meta RM endpoints: checkpoints (list, train, register, activate), meta-scoring a run, and
runs created with MetaRM@k."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from reviews.enqueue import METARM_SCORE, METARM_TRAIN
from reviews.models import MetaRmCheckpoint, Run
from reviews.services.datasets import demo_load
from reviews.services.metarm import checkpoint_activate, checkpoint_register
from tests.factories import RunFactory, make_run
from tests.queries import assert_count_does_not_grow, count_queries

from .test_views import bearer

pytestmark = pytest.mark.django_db


def post(user, name: str, body: dict | None = None, *args):
    return Client().post(reverse(name, args=args), body or {}, content_type="application/json", **bearer(user))


@pytest.fixture
def active(db) -> MetaRmCheckpoint:
    checkpoint = checkpoint_register(name="metarm-a", location="/models/a")
    checkpoint_activate(checkpoint=checkpoint)
    return checkpoint


def finished_run() -> Run:
    _, run = make_run(queries=3, k=4)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, samples_done=12)
    run.refresh_from_db()
    return run


def test_checkpoints_are_listed_with_their_metrics(reviewer_user):
    checkpoint = MetaRmCheckpoint.objects.create(
        name="trained", status="ready", metrics={"roc_auc": 0.81, "ece": 0.04}, training_examples=40, is_active=True
    )
    run = RunFactory.create()
    checkpoint.trained_on_runs.set([run])
    body = Client().get(reverse("api-metarm-checkpoints"), **bearer(reviewer_user)).json()
    [row] = body["results"]
    assert row["name"] == "trained"
    assert row["metrics"] == {"roc_auc": 0.81, "ece": 0.04}
    assert (row["is_active"], row["trained_on_runs"], row["training_examples"]) == (True, [run.pk], 40)


def test_the_checkpoint_list_query_count_does_not_grow(reviewer_user):
    client, headers = Client(), bearer(reviewer_user)

    def add(count: int) -> None:
        for _ in range(count):
            checkpoint = MetaRmCheckpoint.objects.create(name=f"c{MetaRmCheckpoint.objects.count()}")
            checkpoint.trained_on_runs.set(RunFactory.create_batch(2))

    add(1)
    client.get(reverse("api-metarm-checkpoints"), **headers)
    with count_queries() as few:
        client.get(reverse("api-metarm-checkpoints"), **headers)
    add(8)
    with count_queries() as many:
        assert len(client.get(reverse("api-metarm-checkpoints"), **headers).json()["results"]) == 9
    assert_count_does_not_grow({"1 checkpoint": few, "9 checkpoints": many})


def test_admins_train_a_checkpoint_202(admin_user, reviewer_user, sent_tasks, django_capture_on_commit_callbacks):
    run = finished_run()
    body = {"runs": [run.pk], "profile": "cpu", "name": "from-api"}
    assert post(reviewer_user, "api-metarm-checkpoints", body).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_user, "api-metarm-checkpoints", body)
    assert response.status_code == 202, response.content
    created = response.json()
    assert (created["name"], created["status"], created["trained_on_runs"]) == ("from-api", "queued", [run.pk])
    assert sent_tasks.ids(METARM_TRAIN) == [created["id"]]


def test_admins_register_a_checkpoint_201(admin_user):
    response = post(admin_user, "api-metarm-checkpoints", {"name": "hub", "location": "BBQGOD/DeepSeek-GRM-27B-MetaRM"})
    assert response.status_code == 201, response.content
    assert (response.json()["source"], response.json()["status"]) == ("external", "ready")
    again = post(admin_user, "api-metarm-checkpoints", {"name": "hub", "location": "/other"})
    assert again.status_code == 400
    assert "name" in again.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "runs"),
        ({"runs": [1], "location": "/x", "name": "both"}, "runs"),
        ({"location": "/x"}, "name"),
        ({"runs": [10**6]}, "runs"),
        ({"runs": [2**63]}, "runs"),
        ({"runs": [1], "profile": "tpu"}, "profile"),
        ({"name": "bad name!", "location": "/x"}, "name"),
    ],
)
def test_bad_checkpoint_requests_are_400_naming_the_field(admin_user, body, field):
    RunFactory.create(status=Run.Status.DONE)
    response = post(admin_user, "api-metarm-checkpoints", body)
    assert response.status_code == 400
    assert field in response.json()


def test_too_few_judgments_to_train_is_a_400(admin_user, sent_tasks):
    run = RunFactory.create(status=Run.Status.DONE)
    response = post(admin_user, "api-metarm-checkpoints", {"runs": [run.pk]})
    assert response.status_code == 400
    assert "training needs at least" in response.json()["runs"][0]
    assert sent_tasks == []


def test_admins_activate_a_ready_checkpoint(admin_user, reviewer_user, active):
    other = checkpoint_register(name="metarm-b", location="/models/b")
    assert post(reviewer_user, "api-metarm-checkpoint-activate", None, "metarm-b").status_code == 403
    response = post(admin_user, "api-metarm-checkpoint-activate", None, "metarm-b")
    assert response.status_code == 200
    assert response.json()["is_active"] is True
    other.refresh_from_db()
    active.refresh_from_db()
    assert (other.is_active, active.is_active) == (True, False)
    MetaRmCheckpoint.objects.create(name="queued")
    refused = post(admin_user, "api-metarm-checkpoint-activate", None, "queued")
    assert refused.status_code == 400
    assert "not ready" in refused.json()["checkpoint"][0]
    assert post(admin_user, "api-metarm-checkpoint-activate", None, "no-such").status_code == 404


def test_meta_scoring_a_run_202(admin_user, active, sent_tasks, django_capture_on_commit_callbacks):
    run = finished_run()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_user, "api-run-meta-score", {"checkpoint": "metarm-a", "k_meta": 2}, run.pk)
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["meta_status"], body["meta_checkpoint"], body["k_meta"]) == ("queued", "metarm-a", 2)
    assert sent_tasks.ids(METARM_SCORE) == [run.pk]


def test_meta_scoring_refusals(admin_user, reviewer_user, active, sent_tasks):
    run = finished_run()
    assert post(reviewer_user, "api-run-meta-score", {}, run.pk).status_code == 403
    too_many = post(admin_user, "api-run-meta-score", {"k_meta": 5}, run.pk)
    assert too_many.status_code == 400
    assert "k_meta" in too_many.json()
    unknown = post(admin_user, "api-run-meta-score", {"checkpoint": "nope"}, run.pk)
    assert (unknown.status_code, list(unknown.json())) == (400, ["checkpoint"])
    Run.objects.filter(pk=run.pk).update(meta_status=Run.MetaStatus.SCORING)
    conflict = post(admin_user, "api-run-meta-score", {}, run.pk)
    assert conflict.status_code == 409
    assert "already" in conflict.json()["detail"]
    assert post(admin_user, "api-run-meta-score", {}, run.pk + 100).status_code == 404
    assert sent_tasks == []


def test_runs_are_created_with_k_meta_and_a_checkpoint(admin_user, active):
    demo_load()
    base = {"dataset": "demo", "k": 4, "max_tokens": 16, "subset": "code"}
    response = post(admin_user, "api-runs", {**base, "k_meta": 2})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["k_meta"], body["meta_checkpoint"], body["meta_status"]) == (2, "metarm-a", "waiting")
    named = post(admin_user, "api-runs", {**base, "meta_checkpoint": "metarm-a"}).json()
    assert (named["k_meta"], named["meta_checkpoint"]) == (None, "metarm-a")
    too_many = post(admin_user, "api-runs", {**base, "k_meta": 5})
    assert too_many.status_code == 400
    assert "k_meta" in too_many.json()
    unknown = post(admin_user, "api-runs", {**base, "meta_checkpoint": "nope"})
    assert (unknown.status_code, list(unknown.json())) == (400, ["meta_checkpoint"])
