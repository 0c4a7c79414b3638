"""Many reviewers taking items of one queue at once: no item is handed to two of them."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from reviews.models import QueueItem
from reviews.services.queues import queue_next, queue_submit
from tests.factories import UserFactory, make_queue, make_run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_concurrent_reviewers_never_share_an_item_of_a_one_reviewer_queue():
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SELECT ... FOR UPDATE SKIP LOCKED) are PostgreSQL's; SQLite has one writer")
    _, run = make_run(queries=40, k=4)
    queue = make_queue(run)
    reviewers = [UserFactory.create(roles=["reviewer"]) for _ in range(12)]
    failures: list[BaseException] = []
    stop = time.monotonic() + 8

    def work(reviewer) -> None:
        try:
            while time.monotonic() < stop:
                item = queue_next(queue=queue, reviewer=reviewer)
                if item is None:
                    return
                queue_submit(item=item, reviewer=reviewer, decision="accept", time_spent_ms=1)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(reviewer,)) for reviewer in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    done = QueueItem.objects.filter(queue=queue, done_count__gt=0)
    assert done.count() > 12
    assert list(done.filter(done_count__gt=1).values_list("rank", flat=True)) == []
