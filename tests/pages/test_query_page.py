"""The query page: responses with the ground truth, the vote, and one run's k samples side by side."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Query, Sample
from reviews.services.datasets import demo_load
from tests.factories import (
    PASSWORD,
    QueryFactory,
    ResponseFactory,
    RunFactory,
    SampleFactory,
    VerdictFactory,
    make_run,
)
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


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
    demo_load()
    query = Query.objects.get(dataset__name="demo", external_id="reasoning-01")
    page = reviewer_client.get(reverse("query-detail", args=["demo", query.id])).content.decode()
    assert query.best_index is not None
    assert f"ground truth: Response {query.best_index + 1} is best" in page
    assert page.count('class="card response') == query.responses.count()


def test_the_query_page_shows_each_sample_and_the_vote(reviewer_client):
    dataset, _ = make_run(queries=2, k=3)
    query = dataset.queries.order_by("id").first()  # make_run makes one sample of the last query wrong
    assert query is not None
    page = reviewer_client.get(reverse("query-detail", args=[dataset.name, query.pk])).content.decode()
    assert page.count('class="card sample') == 3
    assert "ground truth best" in page
    assert "chosen by the vote" in page
    assert "Shown order: 1, 2" in page
    assert "<em>right</em>" in page  # the critique's Markdown
    assert "sample-disagreement" not in page


def test_disagreement_between_samples_is_shown_and_another_run_can_be_chosen(reviewer_client):
    dataset, run = make_run(queries=1, k=2)  # its sample 0 prefers Response 2, sample 1 Response 1
    query = dataset.queries.get()
    assert list(Sample.objects.filter(run=run).values_list("scores", flat=True)) == [[3, 7], [9, 2]]
    page = reviewer_client.get(reverse("query-detail", args=[dataset.name, query.pk])).content.decode()
    assert "The samples disagree" in page
    assert "1 chose Response 1, 1 chose Response 2" in page
    other = RunFactory.create(dataset=dataset, k=1)
    SampleFactory.create(run=other, query=query, sample_index=0, scores=[1, 10], permutation=[1, 0])
    VerdictFactory.create(run=other, query=query, vote_totals=[1, 10], best_index=1, correct=False)
    latest = reviewer_client.get(reverse("query-detail", args=[dataset.name, query.pk])).content.decode()
    assert "Shown order: 2, 1" in latest  # the latest run by default
    chosen = reverse("query-detail", args=[dataset.name, query.pk]) + f"?run={run.pk}"
    assert "The samples disagree" in reviewer_client.get(chosen).content.decode()


def test_the_query_page_runs_the_same_queries_for_any_k_and_response_count(reviewer_user):
    client = Client()
    client.login(username=reviewer_user.username, password=PASSWORD)
    counted = {}
    for k, responses in [(4, 2), (32, 2), (4, 8)]:
        dataset, _ = make_run(queries=1, k=k, responses=responses)
        query = dataset.queries.get()
        with count_queries() as counted[f"k={k}, {responses} responses"]:
            response = client.get(reverse("query-detail", args=[dataset.name, query.pk]))
            assert response.status_code == 200, response.content[:500]
    assert_count_does_not_grow(counted)
