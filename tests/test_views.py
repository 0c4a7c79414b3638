"""Pages: the home page, dataset and query pages, escaping of uploaded text, the health check."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviews import services
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory

pytestmark = pytest.mark.django_db


def test_home_lists_datasets_with_counts(reviewer_client):
    services.demo_load()
    response = reviewer_client.get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/datasets/demo/"' in page
    assert "reasoning · 10" in page


def make_datasets(count):
    for _ in range(count):
        query = QueryFactory.create(dataset=DatasetFactory.create())
        ResponseFactory.create(query=query, position=0)
        RunFactory.create(dataset=query.dataset)


def count_queries(client, url, **params):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured.captured_queries)


def test_home_query_count_does_not_grow_with_rows(reviewer_client, django_assert_num_queries):
    make_datasets(1)
    few = count_queries(reviewer_client, reverse("home"))
    make_datasets(6)
    with django_assert_num_queries(few):
        reviewer_client.get(reverse("home"))


def test_dataset_page_query_count_does_not_grow_with_rows(reviewer_client, django_assert_num_queries):
    dataset = DatasetFactory.create(name="d")
    for i in range(3):
        ResponseFactory.create(query=QueryFactory.create(dataset=dataset, external_id=f"a{i}"), position=0)
    url = reverse("dataset-detail", args=["d"])
    few = count_queries(reviewer_client, url)
    for i in range(80):
        query = QueryFactory.create(dataset=dataset, external_id=f"b{i}", subset=f"s{i % 4}")
        ResponseFactory.create(query=query, position=0)
        ResponseFactory.create(query=query, position=1)
    with django_assert_num_queries(few):
        assert reviewer_client.get(url).status_code == 200
    assert count_queries(reviewer_client, url, page=2) == few


def test_dataset_page_filters_by_subset_and_text_and_serves_a_fragment_to_htmx(reviewer_client):
    services.demo_load()
    url = reverse("dataset-detail", args=["demo"])
    page = reviewer_client.get(url, {"subset": "code"}).content.decode()
    assert "code-01" in page
    assert "chat-01" not in page
    fragment = reviewer_client.get(url, {"q": "reasoning-03"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert "reasoning-03" in fragment
    assert "reasoning-04" not in fragment


def test_unknown_dataset_and_query_are_404(reviewer_client):
    assert reviewer_client.get(reverse("dataset-detail", args=["nope"])).status_code == 404
    query = QueryFactory.create()
    assert reviewer_client.get(reverse("query-detail", args=["other", query.id])).status_code == 404


def test_uploaded_text_is_rendered_escaped(reviewer_client):
    query = QueryFactory.create(context=[{"role": "user", "content": "<script>alert('q')</script>"}])
    ResponseFactory.create(
        query=query, position=0, text='<img src=x onerror="alert(1)"><a href="javascript:alert(2)">x</a>'
    )
    ResponseFactory.create(query=query, position=1, text="<iframe src='https://example.com'></iframe>")
    page = reviewer_client.get(reverse("query-detail", args=[query.dataset.name, query.id])).content.decode()
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<iframe" not in page
    assert "&lt;script&gt;alert('q')&lt;/script&gt;" in page  # shown as text (Markdown escapes it)
    assert '&lt;img src=x onerror="alert(1)"&gt;' in page


def test_query_page_shows_context_responses_and_label(reviewer_client):
    services.demo_load()
    query = services.Query.objects.get(dataset__name="demo", external_id="reasoning-01")
    page = reviewer_client.get(reverse("query-detail", args=["demo", query.id])).content.decode()
    assert query.best_index is not None
    assert f"ground truth: Response {query.best_index + 1} is best" in page
    assert page.count('class="card response') == query.responses.count()


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_answers_probes_on_any_host_over_plain_http(client, settings):
    settings.ALLOWED_HOSTS = ["grm.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", HTTP_HOST="localhost:8000").status_code == 200
    assert client.get("/", HTTP_HOST="localhost:8000").status_code == 400


def test_healthz_does_not_leak_database_details(client, monkeypatch):
    from django.db import connection

    def broken_cursor():
        raise RuntimeError("password authentication failed for user secret_user at db.internal")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert b"secret_user" not in response.content


def test_the_filter_form_with_an_empty_subset_shows_everything(reviewer_client):
    services.demo_load()
    url = reverse("dataset-detail", args=["demo"])
    assert "40 queries" in reviewer_client.get(url, {"subset": "", "page": 1}).content.decode()
    assert "reasoning-03" in reviewer_client.get(url, {"subset": "", "q": "reasoning-03"}).content.decode()


def test_queries_without_a_subset_have_their_own_filter_value(reviewer_client):
    dataset = DatasetFactory.create(name="mixed")
    QueryFactory.create(dataset=dataset, subset="", external_id="plain")
    QueryFactory.create(dataset=dataset, subset="chat", external_id="chatty")
    home = reviewer_client.get(reverse("home")).content.decode()
    assert "?subset=__none__" in home
    page = reviewer_client.get(reverse("dataset-detail", args=["mixed"]), {"subset": "__none__"}).content.decode()
    assert "plain" in page
    assert "chatty" not in page


def test_text_search_finds_non_ascii_prompts_and_not_json_keys(reviewer_client):
    dataset = DatasetFactory.create(name="search")
    QueryFactory.create(
        dataset=dataset,
        external_id="half",
        prompt="Wait ½ years?",
        context=[{"role": "user", "content": "Wait ½ years?"}],
    )
    QueryFactory.create(
        dataset=dataset,
        external_id="other",
        prompt="Something else",
        context=[{"role": "user", "content": "Something else"}],
    )
    url = reverse("dataset-detail", args=["search"])
    assert "half" in reviewer_client.get(url, {"q": "½ years"}).content.decode()
    assert "No queries match" in reviewer_client.get(url, {"q": "content"}).content.decode()
