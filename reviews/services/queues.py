"""Review queues: an admin builds one, reviewers take its items one at a time and annotate them.

A reviewer's next item is the open item of lowest rank that they have not finished or skipped and
that is not held by as many other reviewers as the queue wants per item. Taking it reserves it for
`reservation_seconds`; an expired reservation frees the item for others.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Abs, Coalesce
from django.utils import timezone

from reviews import audit, rendering
from reviews.errors import AnnotationInvalid, QueueInvalid
from reviews.models import (
    Annotation,
    Assignment,
    Dataset,
    FailureMode,
    Query,
    QueueItem,
    ReviewQueue,
    Run,
    Sample,
    Verdict,
)
from reviews.selectors.datasets import subset_condition
from reviews.services.annotations import annotation_submit
from reviews.services.decisions import decisions_apply

_BATCH = 5000


@dataclass(frozen=True)
class QueueFilters:
    subset: str = ""
    correct: bool | None = None  # run queues: the sample's correctness against the label
    parse_status: str = ""  # run queues

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.subset:
            data["subset"] = self.subset
        if self.correct is not None:
            data["correct"] = self.correct
        if self.parse_status:
            data["parse_status"] = self.parse_status
        return data


def _ordered_samples(run: Run, filters: QueueFilters, priority: str) -> QuerySet[Sample]:
    samples = Sample.objects.filter(run=run)
    if filters.subset:
        samples = samples.filter(subset_condition(filters.subset, via="query__"))
    if filters.correct is not None:
        samples = samples.filter(correct=filters.correct)
    if filters.parse_status:
        samples = samples.filter(parse_status=filters.parse_status)
    order: list[Any] = []
    if priority == ReviewQueue.Priority.AUTO_REJECTED:
        # RFT rejects a judgment that is wrong against the label or has no valid scores.
        rejected = Q(correct=False) | ~Q(parse_status=Sample.ParseStatus.OK)
        samples = samples.annotate(kept=Case(When(rejected, then=Value(0)), default=Value(1)))
        order = [F("kept").asc()]
    elif priority == ReviewQueue.Priority.DISAGREEMENT:
        entropy = Verdict.objects.filter(run=run, query=OuterRef("query_id")).values("vote_entropy")[:1]
        samples = samples.annotate(entropy=Subquery(entropy))
        order = [F("entropy").desc(nulls_last=True)]
    elif priority == ReviewQueue.Priority.META_UNCERTAIN:
        # The meta score is a logit: probability 0.5 is logit 0.
        samples = samples.annotate(uncertainty=Abs("meta_score"))
        order = [F("uncertainty").asc(nulls_last=True)]
    elif priority == ReviewQueue.Priority.UNREVIEWED:
        reviewed = Annotation.objects.filter(sample=OuterRef("pk")).values("pk")[:1]
        samples = samples.annotate(reviewed=Coalesce(Subquery(reviewed), Value(0)))
        order = [F("reviewed").asc()]
    return samples.order_by(*order, "query_id", "sample_index")


def _ordered_queries(dataset: Dataset, filters: QueueFilters, priority: str) -> QuerySet[Query]:
    queries = dataset.queries.all()
    if filters.subset:
        queries = queries.filter(subset_condition(filters.subset))
    if priority == ReviewQueue.Priority.UNREVIEWED:
        reviewed = Annotation.objects.filter(query=OuterRef("pk")).values("pk")[:1]
        queries = queries.annotate(reviewed=Coalesce(Subquery(reviewed), Value(0))).order_by("reviewed", "id")
        return queries
    return queries.order_by("id")


def queue_create(
    *,
    name: str,
    dataset: Dataset,
    run: Run | None,
    filters: QueueFilters,
    priority: str,
    reviewers_per_item: int = 1,
    reservation_seconds: int = 600,
    description: str = "",
    guidelines: str = "",
    created_by: User | None = None,
) -> ReviewQueue:
    """Build a queue and rank its items by `priority` (one bulk insert per 5,000 items)."""
    if run is not None and run.dataset_id != dataset.id:
        raise QueueInvalid(f"run {run.id} is not a run of {dataset.name}")
    if run is None and priority in (ReviewQueue.Priority.DISAGREEMENT, ReviewQueue.Priority.META_UNCERTAIN):
        raise QueueInvalid("this priority ranks a run's judgments: choose a run")
    if run is None and (filters.correct is not None or filters.parse_status):
        raise QueueInvalid("correctness and parse status filter a run's judgments: choose a run")
    if reviewers_per_item < 1:
        raise QueueInvalid("at least one reviewer per item")
    targets: Iterator[tuple[int, int | None]]
    if run is not None:
        targets = iter(_ordered_samples(run, filters, priority).values_list("query_id", "pk").iterator(_BATCH))
    else:
        query_ids = _ordered_queries(dataset, filters, priority).values_list("pk", flat=True).iterator(_BATCH)
        targets = ((query_id, None) for query_id in query_ids)
    with transaction.atomic():
        queue = ReviewQueue.objects.create(
            name=name,
            description=description,
            guidelines=guidelines,
            dataset=dataset,
            run=run,
            filters=filters.as_json(),
            priority=priority,
            reviewers_per_item=reviewers_per_item,
            reservation_seconds=reservation_seconds,
            created_by=created_by,
        )
        count = 0
        while batch := list(itertools.islice(targets, _BATCH)):
            QueueItem.objects.bulk_create(
                QueueItem(queue=queue, query_id=query_id, sample_id=sample_id, rank=count + offset)
                for offset, (query_id, sample_id) in enumerate(batch, start=1)
            )
            count += len(batch)
        if count == 0:
            raise QueueInvalid("no items match these filters")
        queue.item_count = count
        queue.save(update_fields=["item_count"])
    if guidelines:
        rendering.prerender([rendering.markdown(guidelines)])
    return queue


def queue_next(*, queue: ReviewQueue, reviewer: User) -> QueueItem | None:
    """The reviewer's current item: the one they hold, or the next free one, now reserved for them."""
    now = timezone.now()
    with transaction.atomic():
        held = (
            Assignment.objects.select_related("item__query__dataset")
            .filter(queue=queue, reviewer=reviewer, state=Assignment.State.RESERVED, expires_at__gt=now)
            .order_by("reserved_at")
            .first()
        )
        if held is not None:
            return held.item
        held_by_others = (
            Assignment.objects.filter(item=OuterRef("pk"), state=Assignment.State.RESERVED, expires_at__gt=now)
            .exclude(reviewer=reviewer)
            .order_by()
            .values("item")
            .annotate(n=Count("pk"))
            .values("n")
        )
        finished_by_me = Assignment.objects.filter(
            item=OuterRef("pk"), reviewer=reviewer, state__in=[Assignment.State.DONE, Assignment.State.SKIPPED]
        )
        candidates = (
            QueueItem.objects.filter(queue=queue, is_open=True)
            .exclude(Exists(finished_by_me))
            .alias(held=Coalesce(Subquery(held_by_others), Value(0)))
            .filter(held__lt=queue.reviewers_per_item - F("done_count"))
            .order_by("rank")
            .select_related("query__dataset")  # what the item's page shows first
            .select_for_update(skip_locked=True, of=("self",))
        )
        # The candidate query saw other reservations as of its start; one committed since may hold the
        # item now locked. Count them again (a new statement sees every commit) and pass such items.
        passed: list[int] = []
        while True:
            item = candidates.exclude(pk__in=passed).first()
            if item is None:
                return None
            others = (
                Assignment.objects.filter(item=item, state=Assignment.State.RESERVED, expires_at__gt=now)
                .exclude(reviewer=reviewer)
                .count()
            )
            if others < queue.reviewers_per_item - item.done_count:
                break
            passed.append(item.pk)
        # The reviewer's assignment of the item, new or not (a skip taken back, an expired reservation).
        Assignment.objects.bulk_create(
            [
                Assignment(
                    item=item,
                    reviewer=reviewer,
                    queue=queue,
                    state=Assignment.State.RESERVED,
                    reserved_at=now,
                    expires_at=now + timedelta(seconds=queue.reservation_seconds),
                    finished_at=None,
                )
            ],
            update_conflicts=True,
            unique_fields=["item", "reviewer"],
            update_fields=["queue", "state", "reserved_at", "expires_at", "finished_at"],
        )
        return item


def queue_submit(
    *,
    item: QueueItem,
    reviewer: User,
    decision: str,
    failure_modes: Iterable[FailureMode] = (),
    note: str = "",
    corrected_scores: list[int] | None = None,
    time_spent_ms: int | None = None,
) -> Annotation:
    """Annotate a queue item. Submitting again updates the same annotation and counts once."""
    now = timezone.now()
    with transaction.atomic():
        is_open, done_count, per_item = (
            QueueItem.objects.select_for_update(of=("self",))
            .values_list("is_open", "done_count", "queue__reviewers_per_item")
            .get(pk=item.pk)
        )
        assignment = Assignment.objects.select_for_update().filter(item=item, reviewer=reviewer).first()
        if not is_open and (assignment is None or assignment.state != Assignment.State.DONE):
            raise AnnotationInvalid("item", "this item already has the reviews it needs: take your next one")
        if time_spent_ms is None and assignment is not None:
            time_spent_ms = int((now - assignment.reserved_at).total_seconds() * 1000)
        annotation = annotation_submit(
            reviewer=reviewer,
            sample=Sample(pk=item.sample_id, query_id=item.query_id) if item.sample_id else None,
            query=None if item.sample_id else Query(pk=item.query_id),
            decision=decision,
            failure_modes=list(failure_modes),
            note=note,
            corrected_scores=corrected_scores,
            time_spent_ms=max(0, min(time_spent_ms or 0, 2**31 - 1)),
        )
        if assignment is None:
            assignment = Assignment(item=item, queue_id=item.queue_id, reviewer=reviewer, expires_at=now)
        if assignment.state != Assignment.State.DONE:  # counted once: the item is open (checked above)
            assignment.state = Assignment.State.DONE
            assignment.finished_at = now
            assignment.save()
            closes = done_count + 1 >= per_item
            QueueItem.objects.filter(pk=item.pk).update(done_count=F("done_count") + 1, is_open=not closes)
            if closes:
                ReviewQueue.objects.filter(pk=item.queue_id).update(completed_count=F("completed_count") + 1)
    return annotation


def queue_skip(*, item: QueueItem, reviewer: User) -> None:
    """Pass an item: it will not be offered to this reviewer again."""
    now = timezone.now()
    with transaction.atomic():
        assignment, _ = Assignment.objects.select_for_update().get_or_create(
            item=item, reviewer=reviewer, defaults={"queue_id": item.queue_id, "expires_at": now}
        )
        if assignment.state != Assignment.State.DONE:  # an annotated item stays annotated
            assignment.state = Assignment.State.SKIPPED
            assignment.expires_at = assignment.finished_at = now
            assignment.save()


@dataclass(frozen=True)
class Undone:
    """What `queue_undo` took back: the item, back in the reviewer's hands, and the decision they had
    given it (None for a skip), with its fields, for the form to show again."""

    item: QueueItem
    decision: str | None = None
    failure_modes: tuple[str, ...] = ()
    corrected_scores: tuple[int, ...] | None = None
    note: str = ""


def queue_undo(*, queue: ReviewQueue, reviewer: User) -> Undone | None:
    """Take back the reviewer's last decision (or skip) in the queue: their annotation is deleted (the
    sample's decision is computed again without it), the item's counts step back (reopening it when it
    had closed), and the item is reserved for them again, in place of the item they held. None when
    they have nothing to take back."""
    now = timezone.now()
    with transaction.atomic():
        finished = [Assignment.State.DONE, Assignment.State.SKIPPED]
        found = (
            Assignment.objects.filter(queue=queue, reviewer=reviewer, state__in=finished)
            .order_by("-finished_at", "-pk")
            .values_list("pk", "item_id")
            .first()
        )
        if found is None:
            return None
        # The item first, then the assignment: queue_submit's order, so the two never wait on each other.
        items = QueueItem.objects.select_for_update(of=("self",)).select_related("sample", "query__dataset")
        item = items.get(pk=found[1])
        last = Assignment.objects.select_for_update().get(pk=found[0])
        if last.state not in finished:  # taken back by a request just before this one
            return None
        undone = Undone(item=item)
        if last.state == Assignment.State.DONE:
            target = Q(sample=item.sample_id) if item.sample_id else Q(query=item.query_id, sample__isnull=True)
            annotation = Annotation.objects.filter(target, reviewer=reviewer).prefetch_related("failure_modes").first()
            if annotation is not None:
                undone = Undone(
                    item=item,
                    decision=annotation.decision,
                    failure_modes=tuple(mode.code for mode in annotation.failure_modes.all()),
                    corrected_scores=tuple(annotation.corrected_scores) if annotation.corrected_scores else None,
                    note=annotation.note,
                )
                annotation.delete()
                if item.sample_id:
                    decisions_apply(sample_ids=[item.sample_id])
            QueueItem.objects.filter(pk=item.pk).update(done_count=F("done_count") - 1)
            reopened = QueueItem.objects.filter(
                pk=item.pk, is_open=False, done_count__lt=queue.reviewers_per_item
            ).update(is_open=True)
            if reopened:
                ReviewQueue.objects.filter(pk=queue.pk).update(completed_count=F("completed_count") - 1)
        # The item they were on goes back to the queue; the undone one is theirs again.
        Assignment.objects.filter(queue=queue, reviewer=reviewer, state=Assignment.State.RESERVED).delete()
        last.state = Assignment.State.RESERVED
        last.reserved_at = now
        last.expires_at = now + timedelta(seconds=queue.reservation_seconds)
        last.finished_at = None
        last.save()
    return undone


def queue_active_set(*, queue: ReviewQueue, active: bool) -> ReviewQueue:
    """Show the queue to its reviewers, or hide it (its items and annotations stay)."""
    if ReviewQueue.objects.filter(pk=queue.pk).exclude(active=active).update(active=active):
        audit.record_update(queue, active=(not active, active))
    queue.active = active
    return queue


def queue_guidelines_set(*, queue: ReviewQueue, guidelines: str) -> ReviewQueue:
    """Change what the queue's reviewers read beside each item (Markdown, rendered sanitized)."""
    if len(guidelines) > GUIDELINES_MAX_CHARS:
        raise QueueInvalid(f"guidelines are at most {GUIDELINES_MAX_CHARS:,} characters", field="guidelines")
    if ReviewQueue.objects.filter(pk=queue.pk).exclude(guidelines=guidelines).update(guidelines=guidelines):
        audit.record_update(queue, guidelines=(queue.guidelines, guidelines))
    queue.guidelines = guidelines
    rendering.prerender([rendering.markdown(guidelines)])
    return queue


GUIDELINES_MAX_CHARS = 20_000
