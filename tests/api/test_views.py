"""The REST API's reads and writes: filters, cursor pagination, constant query counts, runs and annotations.

Who may call what is tests/api/test_permissions.py; the schema is tests/api/test_schema.py."""

import pytest
from django.test import Client
from django.urls import reverse

from reviews.enqueue import RUN_START
from reviews.models import Annotation, FailureMode, Verdict
from reviews.services.accounts import api_token_create
from reviews.services.annotations import annotation_submit
from reviews.services.datasets import demo_load
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory, SampleFactory
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


def bearer(user):
    _, raw = api_token_create(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def sample_data():
    dataset = DatasetFactory.create(name="api-data")
    query = QueryFactory.create(dataset=dataset)
    ResponseFactory.create(query=query, position=0)
    run = RunFactory.create(dataset=dataset)
    SampleFactory.create(run=run, query=query, sample_index=0)
    return dataset, query, run


def test_datasets_filter_by_name_and_count_queries(sample_data, reviewer_user):
    DatasetFactory.create(name="other")
    body = Client().get(reverse("api-datasets"), {"name": "api-data"}, **bearer(reviewer_user)).json()
    assert [(d["name"], d["query_count"]) for d in body["results"]] == [("api-data", 1)]
    detail = Client().get(reverse("api-dataset", args=["api-data"]), **bearer(reviewer_user))
    assert detail.json()["query_count"] == 1


def test_bad_filters_are_a_400_naming_the_parameter(sample_data, reviewer_user):
    response = Client().get(reverse("api-samples"), {"run": "abc"}, **bearer(reviewer_user))
    assert response.status_code == 400
    assert "run" in response.json()
    response = Client().get(reverse("api-runs"), {"status": "sleeping"}, **bearer(reviewer_user))
    assert response.status_code == 400
    assert "status" in response.json()


def test_cursor_pagination_walks_every_row_once(reviewer_user):
    dataset = DatasetFactory.create(name="paged")
    ids = {QueryFactory.create(dataset=dataset).id for _ in range(25)}
    client = Client()
    url = reverse("api-queries") + "?dataset=paged&page_size=10"
    seen = []
    while url:
        body = client.get(url, **bearer(reviewer_user)).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize(
    "name", ["api-queries", "api-samples", "api-runs", "api-datasets", "api-verdicts", "api-annotations"]
)
def test_list_query_count_does_not_grow_with_rows(name, reviewer_user):
    headers = bearer(reviewer_user)
    client = Client()

    def grow(count):
        for _ in range(count):
            dataset = DatasetFactory.create()
            query = QueryFactory.create(dataset=dataset)
            for position in range(3):
                ResponseFactory.create(query=query, position=position)
            run = RunFactory.create(dataset=dataset)
            SampleFactory.create(run=run, query=query, sample_index=0)
            Verdict.objects.create(run=run, query=query, vote_totals=[1, 2, 3], best_index=2)
            annotation_submit(
                reviewer=reviewer_user, query=query, decision="reject", failure_modes=FailureMode.objects.all()[:2]
            )

    grow(1)
    client.get(reverse(name), **headers)  # the token's first use records last_used_at
    with count_queries() as few:
        assert client.get(reverse(name), **headers).status_code == 200
    grow(8)
    with count_queries() as many:
        body = client.get(reverse(name), **headers).json()
    assert len(body["results"]) >= 9
    assert_count_does_not_grow({"1 row": few, "9 rows": many})


def test_admins_start_and_cancel_runs_through_the_api(
    admin_user, reviewer_user, django_capture_on_commit_callbacks, sent_tasks
):
    demo_load()
    client = Client()
    body = {"dataset": "demo", "k": 2, "max_tokens": 16, "subset": "code"}
    assert (
        client.post(reverse("api-runs"), body, content_type="application/json", **bearer(reviewer_user)).status_code
        == 403
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("api-runs"), body, content_type="application/json", **bearer(admin_user))
    assert response.status_code == 201, response.content
    run = response.json()
    assert (run["k"], run["queries_total"], run["status"], run["dataset"]) == (2, 10, "queued", "demo")
    assert sent_tasks.ids(RUN_START) == [run["id"]]
    cancel = reverse("api-run-cancel", args=[run["id"]])
    assert client.post(cancel, **bearer(reviewer_user)).status_code == 403
    assert client.post(cancel, **bearer(admin_user)).json()["status"] == "cancelled"
    assert client.post(cancel, **bearer(admin_user)).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "nope", "k": 2}, "dataset"),
        ({"dataset": "demo", "k": 0}, "k"),
        ({"dataset": "demo", "k": 2, "temperature": 9}, "temperature"),
        ({"dataset": "demo", "k": 2, "subset": "missing"}, "detail"),
        ({"dataset": "demo"}, "k"),
    ],
)
def test_bad_run_requests_are_400_naming_the_field(admin_user, body, field):
    demo_load()
    response = Client().post(reverse("api-runs"), body, content_type="application/json", **bearer(admin_user))
    assert response.status_code == 400
    assert field in response.json()


def test_reviewers_submit_annotations_and_a_second_submit_updates_the_first(sample_data, reviewer_user, admin_user):
    _, _, run = sample_data
    sample = run.samples.get()
    client = Client()
    body = {
        "sample": sample.id,
        "decision": "reject",
        "failure_modes": ["incorrect_critique", "length_bias"],
        "note": "<b>wrong</b>",
        "time_spent_ms": 5200,
    }
    first = client.post(reverse("api-annotations"), body, content_type="application/json", **bearer(reviewer_user))
    assert first.status_code == 201, first.content
    assert first.json()["reviewer"] == reviewer_user.username
    assert sorted(first.json()["failure_modes"]) == ["incorrect_critique", "length_bias"]
    again = client.post(
        reverse("api-annotations"),
        {**body, "decision": "accept", "failure_modes": []},
        content_type="application/json",
        **bearer(reviewer_user),
    )
    assert again.json()["id"] == first.json()["id"]
    assert Annotation.objects.count() == 1
    assert Annotation.objects.get().decision == "accept"
    other = client.post(reverse("api-annotations"), body, content_type="application/json", **bearer(admin_user))
    assert other.status_code == 201
    listed = client.get(
        reverse("api-annotations"), {"sample": sample.id, "reviewer": reviewer_user.username}, **bearer(admin_user)
    ).json()["results"]
    assert [row["decision"] for row in listed] == ["accept"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "reject"}, "target"),
        ({"decision": "maybe", "query": "QUERY"}, "decision"),
        ({"decision": "reject", "query": "QUERY", "failure_modes": ["no_such_mode"]}, "failure_modes"),
        ({"decision": "reject", "query": "QUERY", "corrected_scores": [5, 5]}, "corrected_scores"),
        ({"decision": "reject", "query": "QUERY", "corrected_scores": [11]}, "corrected_scores"),
        ({"decision": "reject", "sample": 10**9}, "sample"),
    ],
)
def test_bad_annotations_are_400_naming_the_field(sample_data, reviewer_user, body, field):
    _, query, _ = sample_data
    body = {key: (query.id if value == "QUERY" else value) for key, value in body.items()}
    response = Client().post(reverse("api-annotations"), body, content_type="application/json", **bearer(reviewer_user))
    assert response.status_code == 400
    assert field in response.json()


def test_a_run_s_error_log_lists_every_entry_oldest_first(reviewer_user):
    from reviews.models import RunEvent

    run = RunFactory.create()
    RunEvent.objects.create(run=run, kind="batch_retried", message="overloaded", queries=8, task_id="t1", worker="w@h")
    RunEvent.objects.create(run=run, kind="batch_failed", message="gave up", queries=8, attempt=3, task_id="t1")
    RunEvent.objects.create(run=RunFactory.create(), kind="resumed", message="another run's")
    token = bearer(reviewer_user)
    client = Client()
    answer = client.get(reverse("api-run-errors", args=[run.pk]), **token)
    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert [(r["kind"], r["message"], r["queries"], r["attempt"], r["task_id"]) for r in rows] == [
        ("batch_retried", "overloaded", 8, 0, "t1"),
        ("batch_failed", "gave up", 8, 3, "t1"),
    ]
    assert rows[0]["worker"] == "w@h"
    assert client.get(reverse("api-run-errors", args=[run.pk + 1000]), **token).status_code == 404
