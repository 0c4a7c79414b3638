"""Reads for review queues: progress, the item under review, agreement between reviewers.

Each function runs a fixed number of SQL statements, whatever k or the number of responses.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from reviews import agreement
from reviews.models import Annotation, Assignment, FailureMode, Query, QueueItem, ReviewQueue, Sample, Verdict
from reviews.selectors.judgments import Cards, judgment_cards


def queues_overview(*, reviewer: User) -> list[ReviewQueue]:
    """Active queues with items completed and this reviewer's own counts (three SQL statements)."""
    queues: list[ReviewQueue] = list(
        ReviewQueue.objects.filter(active=True).select_related("dataset", "run").order_by("-created_at")
    )
    mine = dict(
        Assignment.objects.filter(reviewer=reviewer, state=Assignment.State.DONE, queue__in=queues)
        .values_list("queue")
        .annotate(n=Count("pk"))
    )
    for queue in queues:
        queue.mine_done = mine.get(queue.pk, 0)  # type: ignore[attr-defined]
        queue.percent = _percent(queue.completed_count, queue.item_count)  # type: ignore[attr-defined]
    return queues


@dataclass
class ReviewItem:
    """Everything the review card shows for one queue item."""

    item: QueueItem
    query: Any
    responses: list[Any]
    samples: list[Sample]
    sample: Sample | None
    verdict: Verdict | None
    failure_modes: list[FailureMode]
    mine: Annotation | None
    cards: Cards = field(default_factory=Cards)  # the texts as HTML, the guidelines last


def review_item(*, queue: ReviewQueue, item: QueueItem, reviewer: User) -> ReviewItem:
    """The item with its query, responses, the run's k samples of that query, the verdict, the
    reviewer's own earlier annotation and every text's HTML (seven SQL statements for any k and any
    number of responses; one more when the item came without its query, see queue_next). `queue`
    comes with its run and the run's template (`queue_for_review`)."""
    query = (
        item.query if QueueItem.query.is_cached(item) else Query.objects.select_related("dataset").get(pk=item.query_id)
    )
    responses = list(query.responses.all())
    samples: list[Sample] = []
    verdict = None
    run = queue.run
    if run is not None:
        samples = list(Sample.objects.filter(run_id=run.pk, query=query).order_by("sample_index"))
        verdict = Verdict.objects.filter(run_id=run.pk, query=query).first()
    target = Q(sample=item.sample_id) if item.sample_id else Q(query=query, sample__isnull=True)
    mine = Annotation.objects.filter(target, reviewer=reviewer).prefetch_related("failure_modes").first()
    scope = FailureMode.Scope.JUDGMENT if item.sample_id else FailureMode.Scope.LABEL  # a dataset queue: labels
    modes = list(FailureMode.objects.filter(active=True, scope=scope))
    template = run.template if run is not None else None  # its score range reads the raw outputs
    cards = judgment_cards(
        query=query,
        responses=responses,
        samples=samples,
        score_low=template.score_low if template else 1,
        score_high=template.score_high if template else 10,
        extra=[queue.guidelines] if queue.guidelines else [],
    )
    current = next((sample for sample in samples if sample.pk == item.sample_id), None)
    return ReviewItem(item, query, responses, samples, current, verdict, modes, mine, cards)


def queue_for_review(*, queue_id: int) -> ReviewQueue:
    """An active queue with what its review pages show: its dataset, its run and the run's template."""
    return ReviewQueue.objects.select_related("dataset", "run__template").get(pk=queue_id, active=True)


def queue_item_for(*, queue_id: int, item_id: int, reviewer: User) -> QueueItem:
    """One item of an active queue, with its queue as `queue_for_review` reads it, and `held`: whether
    the reviewer may annotate it now, holding a live reservation or having annotated it (one
    statement; DoesNotExist when the queue is not active or has no such item)."""
    live = Q(state=Assignment.State.RESERVED, expires_at__gt=timezone.now()) | Q(state=Assignment.State.DONE)
    held = Assignment.objects.filter(live, item=OuterRef("pk"), reviewer=reviewer)
    return (
        QueueItem.objects.select_related("queue__dataset", "queue__run__template")
        .annotate(held=Exists(held))
        .get(pk=item_id, queue_id=queue_id, queue__active=True)
    )


def queue_progress(*, queue: ReviewQueue, reviewer: User) -> dict[str, int | bool]:
    """Items completed (kept on the queue row, not counted over its items), the reviewer's own, and
    whether they have a decision to take back (`can_undo`), in one statement."""
    theirs = Assignment.objects.filter(queue=OuterRef("pk"), reviewer=reviewer).order_by()
    done = theirs.filter(state=Assignment.State.DONE).values("queue").annotate(n=Count("pk")).values("n")
    completed, mine, can_undo = (
        ReviewQueue.objects.filter(pk=queue.pk)
        .annotate(
            mine=Coalesce(Subquery(done), Value(0)),
            can_undo=Exists(theirs.filter(state__in=[Assignment.State.DONE, Assignment.State.SKIPPED])),
        )
        .values_list("completed_count", "mine", "can_undo")
        .get()
    )
    total = queue.item_count
    return {
        "total": total,
        "completed": completed,
        "mine": mine,
        "percent": _percent(completed, total),
        "can_undo": can_undo,
    }


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def _queue_annotations(queue: ReviewQueue) -> QuerySet[Annotation]:
    items = QueueItem.objects.filter(queue=queue)
    if queue.run_id is not None:
        return Annotation.objects.filter(Exists(items.filter(sample=OuterRef("sample"))))
    return Annotation.objects.filter(sample__isnull=True).filter(Exists(items.filter(query=OuterRef("query"))))


@dataclass
class QueueAgreement:
    reviewers: list[dict[str, Any]]
    decision: agreement.AgreementSummary
    modes: list[dict[str, Any]]
    disagreements: list[dict[str, Any]]


def queue_agreement(*, queue: ReviewQueue) -> QueueAgreement:
    """Agreement on decisions and on each failure mode, per-reviewer figures, and the units where
    reviewers disagree (three SQL statements)."""
    rows = list(
        _queue_annotations(queue)
        .select_related("reviewer", "sample__query", "query")
        .prefetch_related("failure_modes")
        .order_by("sample_id", "query_id", "reviewer_id")
    )
    modes = list(FailureMode.objects.all())
    decisions: dict[Any, dict[str, str]] = defaultdict(dict)
    tagged: dict[Any, dict[str, set[str]]] = defaultdict(dict)
    times: dict[str, list[int]] = defaultdict(list)
    targets: dict[Any, Annotation] = {}
    for annotation in rows:
        unit = annotation.sample_id or f"q{annotation.query_id}"
        name = annotation.reviewer.username
        decisions[unit][name] = annotation.decision
        tagged[unit][name] = {mode.code for mode in annotation.failure_modes.all()}
        times[name].append(annotation.time_spent_ms)
        targets.setdefault(unit, annotation)
    raters = sorted(times)
    majority = agreement.agreement_with_majority(decisions)
    reviewers = [
        {
            "name": name,
            "count": len(times[name]),
            "accepted": sum(1 for unit in decisions.values() if unit.get(name) == Annotation.Decision.ACCEPT),
            "median_seconds": statistics.median(times[name]) / 1000,
            "with_majority": majority.get(name, (0, 0)),
        }
        for name in raters
    ]
    decision = agreement.summarize(decisions)
    mode_rows = []
    for mode in modes:
        units = {unit: {name: mode.code in codes for name, codes in by.items()} for unit, by in tagged.items()}
        flagged = sum(1 for by in units.values() for present in by.values() if present)
        if flagged or mode.active:
            mode_rows.append({"mode": mode, "flagged": flagged, **agreement.summarize(units)})
    disagreements = [
        {
            "unit": unit,
            "annotation": targets[unit],
            "decisions": dict(sorted(by.items())),
            "split": Counter(by.values()),
        }
        for unit, by in decisions.items()
        if len(set(by.values())) > 1
    ]
    return QueueAgreement(reviewers, decision, mode_rows, disagreements)
