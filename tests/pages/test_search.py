"""Search: queries by dataset, subset, run verdict, failure mode, reviewer and text, combined with AND."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews.models import FailureMode, Verdict
from reviews.services.queues import queue_submit
from tests.factories import UserFactory, make_queue, make_run

pytestmark = pytest.mark.django_db


def found(client, **params) -> list[str]:
    page = client.get(reverse("search"), params)
    assert page.status_code == 200
    return [query.external_id for query in page.context["page"].object_list]


def test_each_filter_narrows_the_results(reviewer_client):
    dataset, run = make_run(queries=3, k=1)
    other, _ = make_run(queries=1, k=1)
    ids = list(dataset.queries.order_by("id").values_list("external_id", flat=True))
    first, second, third = dataset.queries.order_by("id")
    Verdict.objects.filter(run=run, query=third).update(correct=False)
    queue = make_queue(run)
    alice = UserFactory.create(username="alice", roles=["reviewer"])
    mode = FailureMode.objects.get(code="length_bias")
    item = queue.items.get(query=second)
    queue_submit(item=item, reviewer=alice, decision="reject", failure_modes=[mode])

    assert found(reviewer_client, dataset=dataset.name) == ids
    assert len(found(reviewer_client)) == 4
    assert found(reviewer_client, run=run.pk, correct="false") == [third.external_id]
    assert found(reviewer_client, failure_mode="length_bias") == [second.external_id]
    assert found(reviewer_client, reviewer="alice") == [second.external_id]
    assert found(reviewer_client, reviewer="alice", failure_mode="parse_failure") == []
    assert found(reviewer_client, text=first.external_id) == [first.external_id]
    assert other.name not in "".join(found(reviewer_client, dataset=dataset.name))


def test_bad_filter_values_are_reported_not_a_500(reviewer_client):
    page = reviewer_client.get(reverse("search"), {"run": "abc", "failure_mode": "nope"})
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()
