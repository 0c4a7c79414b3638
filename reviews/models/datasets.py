"""Datasets: the uploaded queries and their candidate responses."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Dataset(models.Model):
    name = models.SlugField(max_length=100, unique=True, help_text="Letters, digits, - and _.")
    description = models.TextField(blank=True)
    source = models.CharField(max_length=500, blank=True, help_text="Where the data came from.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Query(models.Model):
    """One item to judge: a conversation whose last user turn is the query, and its responses."""

    # No index of its own: the unique (dataset, external_id) index serves lookups by dataset.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="queries", db_index=False)
    external_id = models.CharField(max_length=200, help_text="The uploader's id, unique in its dataset.")
    subset = models.CharField(max_length=100, blank=True, help_text="Category, e.g. chat or reasoning.")
    context = models.JSONField(help_text="Chat messages [{role, content}]; the last one is the user's query.")
    prompt = models.TextField(blank=True, help_text="The last user turn as plain text, for lists and search.")
    best_index = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="0-based position of the labelled best response."
    )
    rating = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Label of a single response: a 1-10 rating, or 0/1 (correct) for the single-response template.",
    )
    content_hash = models.CharField(max_length=64, help_text="sha256 of the content, for idempotent re-imports.")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "queries"
        ordering = ["dataset_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="query_unique_external_id"),
            models.CheckConstraint(
                condition=Q(best_index__isnull=True) | Q(rating__isnull=True), name="query_one_label_kind"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=0, rating__lte=10), name="query_rating_0_10"
            ),
        ]
        indexes = [
            models.Index(fields=["dataset", "subset"], name="query_dataset_subset"),
            # A release reads samples in the order of their query's content (duplicates side by side):
            # with this index PostgreSQL streams that order from the first row, sorting only the few
            # samples of each query, instead of sorting the whole selection before the first row.
            models.Index(fields=["content_hash"], name="query_content_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.external_id}"


class Response(models.Model):
    # No index of its own: the unique (query, position) index serves lookups by query.
    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="responses", db_index=False)
    position = models.PositiveSmallIntegerField(help_text="0-based position in the uploaded order.")
    text = models.TextField()
    metadata = models.JSONField(default=dict, blank=True, help_text="E.g. the policy model that wrote it.")

    class Meta:
        ordering = ["query_id", "position"]
        constraints = [models.UniqueConstraint(fields=["query", "position"], name="response_unique_position")]

    def __str__(self) -> str:
        return f"{self.query_id}#{self.position}"
