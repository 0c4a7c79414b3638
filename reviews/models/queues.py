"""Review queues: their ranked items and each reviewer's hold on an item."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviews.models.datasets import Dataset, Query
from reviews.models.runs import Run, Sample


class ReviewQueue(models.Model):
    """Items an admin hands to reviewers: a run's judgments (samples) or a dataset's queries."""

    class Priority(models.TextChoices):
        AUTO_REJECTED = "auto_rejected", "auto-rejected first (wrong or unparsed judgments)"
        DISAGREEMENT = "disagreement", "highest disagreement between samples first (vote entropy)"
        META_UNCERTAIN = "meta_uncertain", "meta score nearest 0.5 first"
        UNREVIEWED = "unreviewed", "unreviewed first, then in order"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidelines = models.TextField(
        blank=True, help_text="Markdown for the reviewers: shown beside each item and in the keyboard help."
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="review_queues")
    run = models.ForeignKey(
        Run,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="review_queues",
        help_text="Review this run's judgments; empty: review the dataset's queries.",
    )
    filters = models.JSONField(default=dict, blank=True, help_text="subset, correct, parse_status.")
    priority = models.CharField(max_length=20, choices=Priority.choices, default=Priority.UNREVIEWED)
    reviewers_per_item = models.PositiveSmallIntegerField(default=1)
    reservation_seconds = models.PositiveIntegerField(default=600, help_text="How long a taken item stays yours.")
    item_count = models.PositiveIntegerField(default=0)
    completed_count = models.PositiveIntegerField(default=0, help_text="Items with all the reviews they need.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class QueueItem(models.Model):
    """One thing to review in a queue, at its place in the queue's order (`rank`, lowest first)."""

    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="items")
    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="+")
    sample = models.ForeignKey(Sample, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    done_count = models.PositiveSmallIntegerField(default=0, help_text="Reviewers who annotated it.")
    is_open = models.BooleanField(default=True, help_text="Fewer reviewers than the queue asks for so far.")

    class Meta:
        ordering = ["queue_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "rank"], name="queueitem_unique_rank"),
            models.UniqueConstraint(fields=["queue", "query", "sample"], name="queueitem_unique_target"),
            # A dataset queue's items have no sample, and NULLs never collide in the constraint above.
            models.UniqueConstraint(
                fields=["queue", "query"], condition=Q(sample__isnull=True), name="queueitem_unique_query"
            ),
        ]
        indexes = [models.Index(fields=["queue", "is_open", "rank"], name="queueitem_open")]

    def __str__(self) -> str:
        return f"item {self.rank} of queue {self.queue_id}"


class Assignment(models.Model):
    """A reviewer's hold on a queue item: reserved until `expires_at`, then done or skipped."""

    class State(models.TextChoices):
        RESERVED = "reserved"
        DONE = "done"
        SKIPPED = "skipped"

    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="assignments")
    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RESERVED)
    reserved_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-reserved_at"]
        constraints = [models.UniqueConstraint(fields=["item", "reviewer"], name="assignment_unique_reviewer")]
        indexes = [
            models.Index(fields=["queue", "reviewer", "state"], name="assignment_queue_reviewer"),
            models.Index(fields=["item", "state", "expires_at"], name="assignment_item_active"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} on {self.item_id} ({self.state})"
