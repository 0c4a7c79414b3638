"""The query page: responses with the ground truth, the vote, and one run's k samples side by side."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Sample
from tests.factories import PASSWORD, RunFactory, SampleFactory, VerdictFactory
from tests.test_queues import count_queries, make_run

pytestmark = pytest.mark.django_db


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
    counts = {}
    for k, responses in [(4, 2), (32, 2), (4, 8)]:
        dataset, _ = make_run(queries=1, k=k, responses=responses)
        query = dataset.queries.get()
        counts[(k, responses)] = count_queries(client, "get", reverse("query-detail", args=[dataset.name, query.pk]))
    assert len(set(counts.values())) == 1, counts
