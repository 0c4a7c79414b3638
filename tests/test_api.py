"""The REST API: the permission matrix, filters, cursor pagination, constant query counts, the schema."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviews import services
from reviews.models import ApiToken, FailureMode
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory, SampleFactory, UserFactory

pytestmark = pytest.mark.django_db

ENDPOINTS: list[tuple[str, list[str]]] = [
    ("api-datasets", []),
    ("api-queries", []),
    ("api-runs", []),
    ("api-samples", []),
    ("api-verdicts", []),
    ("api-annotations", []),
]


def bearer(user):
    _, raw = services.api_token_create(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def sample_data():
    dataset = DatasetFactory.create(name="api-data")
    query = QueryFactory.create(dataset=dataset)
    ResponseFactory.create(query=query, position=0)
    run = RunFactory.create(dataset=dataset)
    SampleFactory.create(run=run, query=query, sample_index=0)
    return dataset, query, run


@pytest.mark.parametrize(("name", "args"), ENDPOINTS)
def test_permission_matrix(sample_data, name, args, admin_user, reviewer_user):
    url = reverse(name, args=args)
    client = Client()
    assert client.get(url).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Bearer grm_not-a-token").status_code == 401
    assert client.get(url, **bearer(reviewer_user)).status_code == 200
    assert client.get(url, **bearer(admin_user)).status_code == 200
    nobody = UserFactory.create()
    assert client.get(url, **bearer(nobody)).status_code == 403
    token, raw = services.api_token_create(user=reviewer_user, name="revoked")
    services.api_token_revoke(token=token)
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    writable_by_reviewers = name == "api-annotations"
    assert client.post(url, {}, **bearer(reviewer_user)).status_code == (400 if writable_by_reviewers else 403)
    expected = 400 if name in ("api-runs", "api-annotations") else 405
    assert client.post(url, {}, **bearer(admin_user)).status_code == expected


def test_session_auth_works_for_the_browser(reviewer_client, sample_data):
    assert reviewer_client.get(reverse("api-datasets")).status_code == 200


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
def test_list_query_count_does_not_grow_with_rows(name, reviewer_user, django_assert_num_queries):
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
            services.Query.objects.get(id=query.id)
            from reviews.models import Verdict

            Verdict.objects.create(run=run, query=query, vote_totals=[1, 2, 3], best_index=2)
            services.annotation_submit(
                reviewer=reviewer_user, query=query, decision="reject", failure_modes=FailureMode.objects.all()[:2]
            )

    grow(1)
    client.get(reverse(name), **headers)  # the token's first use records last_used_at
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(name), **headers).status_code == 200
    grow(8)
    with django_assert_num_queries(len(few.captured_queries)):
        body = client.get(reverse(name), **headers).json()
    assert len(body["results"]) >= 9


def test_create_api_token_prints_a_token_and_stores_only_its_hash(reviewer_user, capsys):
    call_command("create_api_token", reviewer_user.username, "--name", "ci script")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("grm_")
    token = ApiToken.objects.get(user=reviewer_user)
    assert token.key_hash == services.api_token_hash(raw)
    assert raw not in (token.key_hash, token.prefix)
    assert Client().get(reverse("api-datasets"), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_the_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get(reverse("api-schema"), {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/datasets/", "/api/v1/queries/", "/api/v1/runs/", "/api/v1/samples/"} <= set(paths)
    docs = client.get(reverse("api-docs")).content.decode()
    assert "swagger-ui" in docs
    assert "cdn." not in docs
    assert "/static/drf_spectacular_sidecar/" in docs


def test_admins_start_and_cancel_runs_through_the_api(
    admin_user, reviewer_user, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("workers.tasks.run_start.delay", lambda run_id: sent.append(run_id))
    services.demo_load()
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
    assert sent == [run["id"]]
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
    services.demo_load()
    response = Client().post(reverse("api-runs"), body, content_type="application/json", **bearer(admin_user))
    assert response.status_code == 400
    assert field in response.json()


def test_reviewers_submit_annotations_and_a_second_submit_updates_the_first(sample_data, reviewer_user, admin_user):
    from reviews.models import Annotation

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


def test_annotations_need_a_role(sample_data):
    _, query, _ = sample_data
    body = {"query": query.id, "decision": "accept"}
    assert Client().post(reverse("api-annotations"), body, content_type="application/json").status_code == 401
    nobody = UserFactory.create()
    response = Client().post(reverse("api-annotations"), body, content_type="application/json", **bearer(nobody))
    assert response.status_code == 403
