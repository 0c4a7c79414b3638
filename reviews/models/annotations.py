"""Reviewers' decisions on samples and queries, and the failure-mode taxonomy they tag them with."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviews.models.datasets import Query
from reviews.models.runs import Sample


class FailureMode(models.Model):
    """The taxonomy reviewers tag judgments with; admins extend it."""

    class Scope(models.TextChoices):
        JUDGMENT = "judgment", "a GRM judgment (run queues)"
        LABEL = "label", "a query's label (dataset queues)"

    code = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    scope = models.CharField(
        max_length=10,
        choices=Scope.choices,
        default=Scope.JUDGMENT,
        help_text="What the mode is about: review forms offer a queue only the modes of its items' kind.",
    )
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order in forms; digits 1-9 toggle the first nine."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.label


class Annotation(models.Model):
    """A reviewer's decision on a sample or a query; one per (target, reviewer)."""

    class Decision(models.TextChoices):
        ACCEPT = "accept"
        REJECT = "reject"

    sample = models.ForeignKey(Sample, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations")
    query = models.ForeignKey(Query, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    failure_modes = models.ManyToManyField(FailureMode, blank=True, related_name="annotations")
    note = models.TextField(blank=True)
    corrected_scores = models.JSONField(null=True, blank=True, help_text="The reviewer's scores, original order.")
    time_spent_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(sample__isnull=False) & Q(query__isnull=True))
                | (Q(sample__isnull=True) & Q(query__isnull=False)),
                name="annotation_one_target",
            ),
            models.UniqueConstraint(
                fields=["sample", "reviewer"], condition=Q(sample__isnull=False), name="annotation_unique_sample"
            ),
            models.UniqueConstraint(
                fields=["query", "reviewer"], condition=Q(query__isnull=False), name="annotation_unique_query"
            ),
        ]
        indexes = [
            models.Index(fields=["reviewer", "-created_at"], name="annotation_reviewer_recent"),
            models.Index(fields=["decision"], name="annotation_decision"),
        ]

    def __str__(self) -> str:
        target = f"sample {self.sample_id}" if self.sample_id else f"query {self.query_id}"
        return f"{self.decision} on {target} by {self.reviewer_id}"


class Adjudication(models.Model):
    """An admin's decision on a sample its reviewers disagree on (one accepted, another rejected)."""

    class Decision(models.TextChoices):
        ACCEPT = "accept"
        REJECT = "reject"

    sample = models.OneToOneField(Sample, on_delete=models.CASCADE, related_name="adjudication")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    note = models.TextField(help_text="Why: kept with the decision and shown on the query page.")
    adjudicated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="adjudications"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.decision} on sample {self.sample_id}"
