"""The dataset page: its filters by subset and text, the htmx fragment, 404s, and a constant query count."""

import pytest
from django.urls import reverse

from reviews.services.datasets import demo_load
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


def test_dataset_page_filters_by_subset_and_text_and_serves_a_fragment_to_htmx(reviewer_client):
    demo_load()
    url = reverse("dataset-detail", args=["demo"])
    page = reviewer_client.get(url, {"subset": "code"}).content.decode()
    assert "code-01" in page
    assert "chat-01" not in page
    fragment = reviewer_client.get(url, {"q": "reasoning-03"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert "reasoning-03" in fragment
    assert "reasoning-04" not in fragment


def test_the_filter_form_with_an_empty_subset_shows_everything(reviewer_client):
    demo_load()
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


def test_unknown_dataset_and_query_are_404(reviewer_client):
    assert reviewer_client.get(reverse("dataset-detail", args=["nope"])).status_code == 404
    query = QueryFactory.create()
    assert reviewer_client.get(reverse("query-detail", args=["other", query.id])).status_code == 404


def test_dataset_page_query_count_does_not_grow_with_rows(reviewer_client):
    dataset = DatasetFactory.create(name="d")
    for i in range(3):
        ResponseFactory.create(query=QueryFactory.create(dataset=dataset, external_id=f"a{i}"), position=0)
    url = reverse("dataset-detail", args=["d"])
    with count_queries() as few:
        assert reviewer_client.get(url).status_code == 200
    for i in range(80):
        query = QueryFactory.create(dataset=dataset, external_id=f"b{i}", subset=f"s{i % 4}")
        ResponseFactory.create(query=query, position=0)
        ResponseFactory.create(query=query, position=1)
    with count_queries() as many:
        assert reviewer_client.get(url).status_code == 200
    with count_queries() as second_page:
        assert reviewer_client.get(url, {"page": 2}).status_code == 200
    assert_count_does_not_grow({"3 queries": few, "83 queries": many, "83 queries, page 2": second_page})
