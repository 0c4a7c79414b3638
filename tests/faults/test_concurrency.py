"""Reviewers racing (issue 14), over real HTTP on PostgreSQL: the same annotation sent twice at once is
stored once; an item whose reservation expires goes back to the queue for the next reviewer."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time

import pytest
from django.test import Client

from reviews.models import Annotation, Assignment
from reviews.services.accounts import api_token_create
from tests.factories import PASSWORD, UserFactory, make_queue, make_run

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_same_annotation_sent_twice_at_once_is_stored_once(live_server):
    _, run = make_run(queries=4, k=3)
    reviewer = UserFactory.create(roles=["reviewer"])
    _, token = api_token_create(user=reviewer, name="racing")
    samples = list(run.samples.values_list("id", flat=True))
    statuses: list[int] = []

    def send(sample_id: int, barrier: threading.Barrier, decision: str) -> None:
        body = {"sample": sample_id, "decision": decision, "failure_modes": [], "note": f"{decision} it"}
        conn = http.client.HTTPConnection(live_server.thread.host, live_server.thread.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        barrier.wait()
        conn.request("POST", "/api/v1/annotations/", body=json.dumps(body), headers=headers)
        statuses.append(conn.getresponse().status)
        conn.close()

    for sample_id in samples:
        barrier = threading.Barrier(3)
        threads = [threading.Thread(target=send, args=(sample_id, barrier, d)) for d in ("accept", "reject", "accept")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert set(statuses) == {201}, statuses  # each answered; none a 500 or a conflict of the database's
    assert Annotation.objects.filter(reviewer=reviewer).count() == len(samples)
    assert set(Annotation.objects.values_list("sample_id", flat=True)) == set(samples)


def test_an_expired_reservation_returns_the_item_to_the_queue():
    _, run = make_run(queries=3, k=2)
    queue = make_queue(run, reviewers_per_item=1, reservation_seconds=1)
    first, second = (UserFactory.create(roles=["reviewer"]) for _ in range(2))

    def item_shown_to(user) -> int:
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        page = client.get(f"/queues/{queue.id}/")
        assert page.status_code == 200
        shown = re.search(rf"/queues/{queue.id}/items/(\d+)/annotate/", page.content.decode())
        assert shown is not None, "no item on the review page"
        return int(shown.group(1))

    taken = item_shown_to(first)
    assert Assignment.objects.get(reviewer=first).state == Assignment.State.RESERVED
    time.sleep(1.5)  # the reservation (1 s) runs out; nothing else is done
    assert item_shown_to(second) == taken  # back in the queue: the first free item is the same one
