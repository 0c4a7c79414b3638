"""The RFT decision endpoints: samples show their decision, admins adjudicate held samples and resample a run's
failed queries with the hint. Who may call them is also in tests/api/test_permissions.py."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Adjudication, Run, Sample
from reviews.services.accounts import api_token_create
from reviews.services.annotations import annotation_submit
from tests.factories import QueryFactory, RunFactory, UserFactory
from tests.services.judged import judged, store

pytestmark = pytest.mark.django_db

RIGHT, WRONG = [9, 2], [2, 9]


def call(user, url: str, body: object = None, method: str = "post"):
    _, raw = api_token_create(user=user, name="test")
    data = json.dumps(body) if body is not None else ""
    return getattr(Client(), method)(
        url, data=data, content_type="application/json", headers={"Authorization": f"Bearer {raw}"}
    )


@pytest.fixture
def judged_run():
    """A done run of k=2 over two labelled queries: one got a right and a wrong sample, the other two wrong."""
    run = RunFactory.create(k=2)
    mixed, failed = (QueryFactory.create(dataset=run.dataset, best_index=0) for _ in range(2))
    store(run, [judged(mixed, [RIGHT, WRONG]), judged(failed, [WRONG, WRONG])])
    run.refresh_from_db()
    run.failed_query = failed  # type: ignore[attr-defined]
    return run


@pytest.fixture
def held(judged_run, reviewer_user) -> Sample:
    sample = Sample.objects.filter(run=judged_run, correct=False).order_by("id").first()
    assert sample is not None
    annotation_submit(reviewer=reviewer_user, sample=sample, decision="accept", note="The critique is sound.")
    annotation_submit(reviewer=UserFactory.create(roles=["reviewer"]), sample=sample, decision="reject")
    return sample


def test_samples_show_their_decision(judged_run, held, reviewer_user):
    rows = call(reviewer_user, reverse("api-samples") + f"?run={judged_run.pk}", method="get").json()["results"]
    decisions = {
        row["id"]: (row["rule_reason"], row["decision"], row["decision_reason"], row["decision_source"]) for row in rows
    }
    assert decisions[held.pk] == ("incorrect", "held", "reviewers_disagree", "reviewer")
    assert ("correct", "accept", "correct", "rule") in decisions.values()
    assert ("incorrect", "reject", "incorrect", "rule") in decisions.values()


def test_an_admin_adjudicates_a_held_sample(held, admin_user):
    url = reverse("api-sample-adjudication", args=[held.pk])
    response = call(admin_user, url, {"decision": "accept", "note": "Sound critique; the label is off."})
    assert response.status_code == 201, response.content
    body = response.json()
    assert {key: body[key] for key in ("sample", "decision", "note", "adjudicated_by")} == {
        "sample": held.pk,
        "decision": "accept",
        "note": "Sound critique; the label is off.",
        "adjudicated_by": admin_user.username,
    }
    assert (body["sample_decision"], body["sample_decision_reason"], body["sample_decision_source"]) == (
        "accept",
        "adjudicated",
        "adjudication",
    )
    again = call(admin_user, url, {"decision": "reject", "note": "No."})
    assert (again.status_code, again.json()["sample_decision"]) == (201, "reject")
    assert Adjudication.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "accept"}, "note"),
        ({"decision": "accept", "note": ""}, "note"),
        ({"decision": "accept", "note": "   "}, "note"),
        ({"decision": "held", "note": "Why not."}, "decision"),
        ({"note": "Why not."}, "decision"),
    ],
)
def test_bad_adjudications_are_a_400_naming_the_field(held, admin_user, body, field):
    response = call(admin_user, reverse("api-sample-adjudication", args=[held.pk]), body)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Adjudication.objects.exists()


def test_a_sample_whose_reviewers_agree_is_not_adjudicated(judged_run, admin_user, reviewer_user):
    sample = Sample.objects.filter(run=judged_run).first()
    assert sample is not None
    annotation_submit(reviewer=reviewer_user, sample=sample, decision="reject")
    response = call(
        admin_user, reverse("api-sample-adjudication", args=[sample.pk]), {"decision": "accept", "note": "x"}
    )
    assert response.status_code == 400
    assert "do not disagree" in response.json()["sample"][0]
    missing = call(admin_user, reverse("api-sample-adjudication", args=[10**9]), {"decision": "accept", "note": "x"})
    assert missing.status_code == 404


def test_reviewers_may_not_adjudicate_or_resample(held, judged_run, reviewer_user):
    adjudication = call(
        reviewer_user, reverse("api-sample-adjudication", args=[held.pk]), {"decision": "accept", "note": "x"}
    )
    resample = call(reviewer_user, reverse("api-run-hinted", args=[judged_run.pk]))
    assert (adjudication.status_code, resample.status_code) == (403, 403)
    assert not Adjudication.objects.exists()
    assert not Run.objects.filter(hinted=True).exists()


def test_an_admin_resamples_the_failed_queries_with_the_hint(judged_run, admin_user):
    response = call(admin_user, reverse("api-run-hinted", args=[judged_run.pk]))
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["hinted"], body["k"], body["source_run"], body["status"]) == (True, 1, judged_run.pk, "queued")
    assert body["query_filter"] == {"ids": [judged_run.failed_query.pk]}
    assert body["queries_total"] == 1
    detail = call(admin_user, reverse("api-run", args=[judged_run.pk]), method="get").json()
    assert detail["source_run"] is None

    again = call(admin_user, reverse("api-run-hinted", args=[judged_run.pk]))
    assert again.status_code == 400
    assert "no query left" in again.json()["detail"]
    hinted = call(admin_user, reverse("api-run-hinted", args=[body["id"]]))
    assert (hinted.status_code, "itself hinted" in hinted.json()["detail"]) == (400, True)


def test_a_run_that_is_not_done_is_refused(judged_run, admin_user):
    Run.objects.filter(pk=judged_run.pk).update(status=Run.Status.RUNNING)
    response = call(admin_user, reverse("api-run-hinted", args=[judged_run.pk]))
    assert response.status_code == 400
    assert "once it is done" in response.json()["detail"]
