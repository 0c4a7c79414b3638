"""The home page: datasets with their counts, my queues, runs with live progress, recent activity."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews.models import ReviewQueue, Run
from reviews.services.datasets import demo_load
from reviews.services.queues import queue_next, queue_submit
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory, make_queue, make_run
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


def test_home_lists_datasets_with_counts(reviewer_client):
    demo_load()
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


def test_home_query_count_does_not_grow_with_rows(reviewer_client):
    make_datasets(1)
    with count_queries() as few:
        assert reviewer_client.get(reverse("home")).status_code == 200
    make_datasets(6)
    with count_queries() as many:
        assert reviewer_client.get(reverse("home")).status_code == 200
    assert_count_does_not_grow({"1 dataset": few, "7 datasets": many})


def test_home_lists_my_queues_runs_and_recent_activity(reviewer_client, reviewer_user):
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run, name="first pass", priority=ReviewQueue.Priority.UNREVIEWED)
    item = queue_next(queue=queue, reviewer=reviewer_user)
    assert item is not None
    queue_submit(item=item, reviewer=reviewer_user, decision="reject")
    page = reviewer_client.get(reverse("home")).content.decode()
    assert 'id="my-queues"' in page
    assert "first pass" in page
    assert "1 of 2" in page
    assert f"{reviewer_user.username} <a" in page
    assert "rejected sample 1 of" in page
    assert f'id="run-row-{run.pk}"' in page


def test_an_active_run_row_polls_itself_and_stops_when_done(reviewer_client):
    _, run = make_run(queries=1, k=1)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING, phase=Run.Phase.GENERATING, queries_total=4, queries_done=1, samples_done=1
    )
    row = reviewer_client.get(reverse("run-row", args=[run.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in row
    assert '<progress max="4" value="1"></progress> 25%' in row  # counted in samples (k = 1 here)
    assert "generating" in row
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, phase="", queries_done=4, samples_done=4)
    row = reviewer_client.get(reverse("run-row", args=[run.pk])).content.decode()
    assert "hx-trigger" not in row
    assert '<progress max="4" value="4">' in row
