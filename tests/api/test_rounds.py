"""The rounds API: listing, creating the next round (admins), a round with its runs' accuracy and its releases,
and runs that name their round when started. Who may call what is tests/api/test_permissions.py."""

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Round, Run, Verdict
from reviews.services.accounts import api_token_create
from reviews.services.datasets import demo_load
from reviews.services.rounds import round_create
from tests.factories import ModelConfigFactory, ReleaseFactory, RunFactory, make_run
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_releases(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"


def bearer(user):
    _, raw = api_token_create(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(user, body):
    return Client().post(reverse("api-rounds"), body, content_type="application/json", **bearer(user))


def test_admins_create_rounds_in_turn_and_reviewers_cannot(admin_user, reviewer_user):
    ModelConfigFactory.create(name="grm-r2")
    assert post(reviewer_user, {"name": "mine"}).status_code == 403
    first = post(admin_user, {"name": "seed"})
    assert first.status_code == 201, first.content
    assert first.json() | {"created_at": None} == {
        "number": 1,
        "name": "seed",
        "parent": None,
        "model_config": None,
        "notes": "",
        "created_by": admin_user.username,
        "created_at": None,
        "run_count": 0,
        "release_count": 0,
    }
    second = post(admin_user, {"model_config": "grm-r2", "notes": "trained on round 1"}).json()
    assert (second["number"], second["parent"], second["model_config"]) == (2, 1, "grm-r2")
    branch = post(admin_user, {"parent": 1}).json()
    assert (branch["number"], branch["parent"]) == (3, 1)
    assert Round.objects.count() == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"parent": 9}, "parent"),
        ({"parent": "one"}, "parent"),
        ({"parent": 2**70}, "parent"),
        ({"parent": True}, "parent"),
        ({"model_config": "missing"}, "model_config"),
        ({"model_config": "bad\x00name"}, "model_config"),
        ({"name": "x" * 201}, "name"),
    ],
)
def test_bad_round_requests_are_400_naming_the_field(admin_user, body, field):
    round_create()
    response = post(admin_user, body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Round.objects.count() == 1


def test_the_list_walks_rounds_by_number_in_a_fixed_number_of_statements(reviewer_user):
    headers = bearer(reviewer_user)
    client = Client()
    first = round_create(name="a")
    RunFactory.create(rft_round=first)
    ReleaseFactory.create(rft_round=first)
    client.get(reverse("api-rounds"), **headers)  # the token's first use records last_used_at
    with count_queries() as few:
        body = client.get(reverse("api-rounds"), **headers).json()
    assert [(r["number"], r["run_count"], r["release_count"]) for r in body["results"]] == [(1, 1, 1)]
    for _ in range(6):
        current = round_create()
        RunFactory.create(rft_round=current)
    with count_queries() as many:
        body = client.get(reverse("api-rounds") + "?page_size=4", **headers).json()
    assert [r["number"] for r in body["results"]] == [1, 2, 3, 4]
    assert_count_does_not_grow({"1 round": few, "7 rounds": many})
    rest = client.get(body["next"], **headers).json()
    assert [(r["number"], r["parent"]) for r in rest["results"]] == [(5, 4), (6, 5), (7, 6)]


def test_a_round_shows_its_runs_accuracy_children_and_releases(reviewer_user):
    parent = round_create()
    current = round_create(name="r2", model_config=ModelConfigFactory.create(name="ckpt-2"))
    child = round_create()
    _, run = make_run(queries=4, k=2)
    Run.objects.filter(pk=run.pk).update(rft_round=current, k_meta=1)
    first = Verdict.objects.filter(run=run).order_by("query_id")[0]
    Verdict.objects.filter(pk=first.pk).update(correct=False, meta_correct=True)
    release = ReleaseFactory.create(rft_round=current, counts={"rows": 5})
    headers = bearer(reviewer_user)
    Client().get(reverse("api-rounds"), **headers)  # the token's first use records last_used_at
    with count_queries() as one_run:
        body = Client().get(reverse("api-round", args=[current.number]), **headers).json()
    assert (body["number"], body["name"], body["parent"], body["model_config"]) == (2, "r2", parent.number, "ckpt-2")
    assert body["children"] == [child.number]
    assert (body["run_count"], body["release_count"]) == (1, 1)
    [row] = body["runs"]
    assert row["id"] == run.pk
    assert (row["k"], row["k_meta"], row["status"], row["dataset"]) == (2, 1, "queued", run.dataset.name)
    assert (row["voting_total"], row["voting_right"], row["voting_accuracy"]) == (4, 3, 0.75)
    assert (row["meta_total"], row["meta_right"], row["meta_accuracy"]) == (1, 1, 1.0)
    assert (row["accepted"], row["rejected"], row["held"]) == (0, 0, 0)
    [shown] = body["releases"]
    assert shown | {"created_at": None} == {
        "id": release.pk,
        "name": release.name,
        "version": 1,
        "kind": "rft_sft",
        "status": "ready",
        "counts": {"rows": 5},
        "sha256": release.sha256,
        "created_at": None,
    }
    for _ in range(3):
        _, more = make_run(queries=2, k=2)
        Run.objects.filter(pk=more.pk).update(rft_round=current)
        ReleaseFactory.create(rft_round=current)
    with count_queries() as four_runs:
        body = Client().get(reverse("api-round", args=[current.number]), **headers).json()
    assert len(body["runs"]) == 4
    assert_count_does_not_grow({"1 run": one_run, "4 runs": four_runs})


def test_an_unknown_round_is_a_404(reviewer_user):
    headers = bearer(reviewer_user)
    assert Client().get(reverse("api-round", args=[1]), **headers).status_code == 404
    assert Client().get(f"/api/v1/rounds/{2**70}/", **headers).status_code == 404


def test_a_run_names_its_round_when_started(admin_user, sent_tasks):
    demo_load()
    round_create()
    body = {"dataset": "demo", "k": 1, "max_tokens": 8, "subset": "chat", "rft_round": 1}
    client = Client()
    created = client.post(reverse("api-runs"), body, content_type="application/json", **bearer(admin_user))
    assert created.status_code == 201, created.content
    assert created.json()["rft_round"] == 1
    assert Run.objects.get().rft_round == Round.objects.get(number=1)
    listed = client.get(reverse("api-run", args=[created.json()["id"]]), **bearer(admin_user)).json()
    assert listed["rft_round"] == 1
    for bad in (5, "x", 2**64):
        refused = client.post(
            reverse("api-runs"), {**body, "rft_round": bad}, content_type="application/json", **bearer(admin_user)
        )
        assert refused.status_code == 400, refused.content
        assert "rft_round" in refused.json()
    assert Run.objects.count() == 1
