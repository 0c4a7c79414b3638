"""Reads for the home page's activity feed: the latest annotations, uploads and runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from reviews.models import Annotation, Run, Upload


@dataclass(frozen=True)
class Activity:
    when: Any
    who: str
    what: str
    url: str


def recent_activity(*, limit: int = 12) -> list[Activity]:
    """The latest annotations, uploads and runs, newest first (three SQL statements)."""
    events: list[Activity] = []
    for annotation in Annotation.objects.select_related(
        "reviewer", "sample__query__dataset", "query__dataset"
    ).order_by("-updated_at")[:limit]:
        query = annotation.sample.query if annotation.sample else annotation.query
        assert query is not None
        target = (
            f"sample {annotation.sample.sample_index + 1} of {query.external_id}"
            if annotation.sample
            else query.external_id
        )
        events.append(
            Activity(
                annotation.updated_at,
                annotation.reviewer.username,
                f"{annotation.decision}ed {target}",
                reverse("query-detail", args=[query.dataset.name, query.pk]),
            )
        )
    for upload in Upload.objects.select_related("created_by").order_by("-created_at")[:limit]:
        who = upload.created_by.username if upload.created_by else "—"
        what = f"uploaded {upload.items:,} items into {upload.dataset_name} ({upload.status})"
        events.append(Activity(upload.created_at, who, what, reverse("dataset-detail", args=[upload.dataset_name])))
    for run in Run.objects.select_related("created_by", "dataset").order_by("-created_at")[:limit]:
        who = run.created_by.username if run.created_by else "—"
        events.append(
            Activity(
                run.created_at, who, f"started run {run.pk} on {run.dataset.name}", reverse("run-detail", args=[run.pk])
            )
        )
    return sorted(events, key=lambda event: event.when, reverse=True)[:limit]
