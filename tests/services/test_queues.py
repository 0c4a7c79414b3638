"""Review queues: building and ranking, reservations, skipping, submitting, and the completed count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.errors import AnnotationInvalid, QueueInvalid
from reviews.models import Annotation, Assignment, FailureMode, QueueItem, ReviewQueue, Sample
from reviews.services.queues import QueueFilters, queue_create, queue_next, queue_skip, queue_submit, queue_undo
from tests.factories import UserFactory, make_queue, make_run

pytestmark = pytest.mark.django_db


def ranked(queue: ReviewQueue) -> list[tuple[int, int]]:
    return [(item.query_id, sample_of(item).sample_index) for item in queue.items.select_related("sample")]


def sample_of(item: QueueItem) -> Sample:
    assert item.sample is not None
    return item.sample


def take(queue: ReviewQueue, reviewer) -> QueueItem:
    item = queue_next(queue=queue, reviewer=reviewer)
    assert item is not None
    return item


def test_a_run_queue_holds_one_item_per_judgment_in_priority_order():
    dataset, run = make_run(queries=3, k=2)
    queue = make_queue(run, priority=ReviewQueue.Priority.AUTO_REJECTED)
    assert queue.item_count == 6
    wrong = Sample.objects.get(correct=False)
    assert ranked(queue)[0] == (wrong.query_id, wrong.sample_index)
    by_entropy = make_queue(run, priority=ReviewQueue.Priority.DISAGREEMENT)
    assert [query for query, _ in ranked(by_entropy)][::2] == sorted(
        dataset.queries.values_list("id", flat=True), reverse=True
    )
    uncertain = make_queue(run, priority=ReviewQueue.Priority.META_UNCERTAIN)
    metas = [abs(sample_of(item).meta_score or 0) for item in uncertain.items.select_related("sample")]
    assert metas == sorted(metas)
    only_wrong = make_queue(run, filters=QueueFilters(correct=False))
    assert only_wrong.item_count == 1


def test_a_dataset_queue_reviews_queries_and_rejects_run_only_options():
    dataset, _ = make_run(queries=3)
    queue = queue_create(name="labels", dataset=dataset, run=None, filters=QueueFilters(), priority="unreviewed")
    assert queue.item_count == 3
    assert not queue.items.filter(sample__isnull=False).exists()
    with pytest.raises(QueueInvalid, match="choose a run"):
        queue_create(name="x", dataset=dataset, run=None, filters=QueueFilters(), priority="disagreement")
    with pytest.raises(QueueInvalid, match="no items"):
        queue_create(
            name="x",
            dataset=dataset,
            run=None,
            filters=QueueFilters(subset="nope"),
            priority="unreviewed",
        )


def test_a_reservation_keeps_two_reviewers_off_one_item_until_it_expires():
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run)
    alice, bob = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    first = queue_next(queue=queue, reviewer=alice)
    assert queue_next(queue=queue, reviewer=alice) == first  # she keeps her item
    second = queue_next(queue=queue, reviewer=bob)
    assert second is not None
    assert second != first
    carol = UserFactory.create(roles=["reviewer"])
    assert queue_next(queue=queue, reviewer=carol) is None  # both held
    Assignment.objects.filter(reviewer=alice).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert queue_next(queue=queue, reviewer=carol) == first


def test_a_queue_can_ask_for_several_reviewers_per_item():
    _, run = make_run(queries=1, k=1)
    queue = make_queue(run, reviewers_per_item=2)
    alice, bob, carol = (UserFactory.create(roles=["reviewer"]) for _ in range(3))
    item = take(queue, alice)
    assert queue_next(queue=queue, reviewer=bob) == item
    assert queue_next(queue=queue, reviewer=carol) is None
    queue_submit(item=item, reviewer=alice, decision="accept")
    queue_submit(item=item, reviewer=bob, decision="reject")
    item.refresh_from_db()
    assert (item.done_count, item.is_open) == (2, False)


def test_submitting_twice_stores_one_annotation_and_counts_once_and_skips_are_not_offered_again():
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run)
    alice = UserFactory.create(roles=["reviewer"])
    item = take(queue, alice)
    mode = FailureMode.objects.get(code="incorrect_critique")
    for _ in range(2):
        queue_submit(item=item, reviewer=alice, decision="reject", failure_modes=[mode])
    item.refresh_from_db()
    assert item.done_count == 1
    assert Annotation.objects.count() == 1
    annotation = Annotation.objects.get()
    assert annotation.sample_id == item.sample_id
    assert list(annotation.failure_modes.all()) == [mode]
    assert annotation.time_spent_ms >= 0
    following = take(queue, alice)
    assert following != item
    queue_skip(item=following, reviewer=alice)
    assert queue_next(queue=queue, reviewer=alice) is None
    queue_skip(item=item, reviewer=alice)  # a skip never undoes an annotation
    assert Assignment.objects.get(item=item).state == Assignment.State.DONE


def test_the_completed_count_follows_items_that_get_all_their_reviews():
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run, reviewers_per_item=2)
    alice, bob = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    first = take(queue, alice)
    queue_submit(item=first, reviewer=alice, decision="accept")
    queue.refresh_from_db()
    assert queue.completed_count == 0
    queue_submit(item=first, reviewer=bob, decision="accept")
    queue_submit(item=first, reviewer=bob, decision="reject")  # again: counts once
    queue.refresh_from_db()
    assert queue.completed_count == 1


def test_a_closed_item_takes_no_late_review():
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run)
    alice, carol = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    held = take(queue, alice)
    assert take(queue, carol) != held  # carol holds the other item
    # Alice's reservation expires, Bob takes and finishes the item; her late answer is refused.
    Assignment.objects.filter(reviewer=alice).update(expires_at=timezone.now() - timedelta(seconds=1))
    bob = UserFactory.create(roles=["reviewer"])
    assert take(queue, bob) == held
    queue_submit(item=held, reviewer=bob, decision="accept")
    with pytest.raises(AnnotationInvalid, match="already has the reviews"):
        queue_submit(item=held, reviewer=alice, decision="reject")
    held.refresh_from_db()
    assert held.done_count == 1


def test_undo_takes_back_the_last_decision_and_gives_its_item_back():
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run)
    alice = UserFactory.create(roles=["reviewer"])
    assert queue_undo(queue=queue, reviewer=alice) is None  # nothing to take back yet
    first = take(queue, alice)
    mode = FailureMode.objects.get(code="incorrect_critique")
    queue_submit(
        item=first, reviewer=alice, decision="reject", failure_modes=[mode], note="why", corrected_scores=[2, 9]
    )
    sample = sample_of(first)
    sample.refresh_from_db()
    assert (sample.decision, sample.decision_source) == ("reject", "reviewer")
    second = take(queue, alice)  # the next item is hers now
    queue.refresh_from_db()
    assert queue.completed_count == 1

    undone = queue_undo(queue=queue, reviewer=alice)
    assert undone is not None
    assert undone.item == first
    assert (undone.decision, undone.failure_modes, undone.note) == ("reject", ("incorrect_critique",), "why")
    assert undone.corrected_scores == (2, 9)
    assert Annotation.objects.count() == 0
    sample.refresh_from_db()
    assert sample.decision_source == "rule"  # decided again without her word
    first.refresh_from_db()
    queue.refresh_from_db()
    assert (first.done_count, first.is_open, queue.completed_count) == (0, True, 0)
    assert queue_next(queue=queue, reviewer=alice) == first  # hers again, before the one she was on
    assert not Assignment.objects.filter(item=second).exists()  # that one went back to the queue
    queue_submit(item=first, reviewer=alice, decision="accept")
    first.refresh_from_db()
    assert (first.done_count, first.is_open) == (1, False)
    assert Annotation.objects.get().decision == "accept"


def test_undo_takes_back_a_skip_and_only_the_reviewers_own_decision():
    _, run = make_run(queries=1, k=1)
    queue = make_queue(run, reviewers_per_item=2)
    alice, bob = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    item = take(queue, alice)
    queue_skip(item=item, reviewer=alice)
    assert queue_next(queue=queue, reviewer=alice) is None
    undone = queue_undo(queue=queue, reviewer=alice)
    assert undone is not None
    assert (undone.item, undone.decision) == (item, None)
    assert queue_next(queue=queue, reviewer=alice) == item

    queue_submit(item=item, reviewer=alice, decision="accept")
    take(queue, bob)
    queue_submit(item=item, reviewer=bob, decision="reject")
    item.refresh_from_db()
    assert (item.done_count, item.is_open) == (2, False)
    assert queue_undo(queue=queue, reviewer=bob) is not None
    item.refresh_from_db()
    queue.refresh_from_db()
    assert (item.done_count, item.is_open, queue.completed_count) == (1, True, 0)
    assert list(Annotation.objects.values_list("reviewer__username", "decision")) == [(alice.username, "accept")]
