"""Fixtures of the page tests."""

from __future__ import annotations

from typing import Any

import pytest

from reviews.models import QueueItem, Upload, UploadError
from reviews.services.accounts import api_token_create
from reviews.services.annotations import annotation_submit
from reviews.services.queues import QueueFilters, queue_create
from reviews.services.rounds import round_create
from tests.factories import (
    DatasetFactory,
    QueryFactory,
    ReleaseFactory,
    ResponseFactory,
    RunFactory,
    SampleFactory,
    VerdictFactory,
)


@pytest.fixture
def url_values(admin_user, settings, tmp_path) -> dict[str, Any]:
    """A real row for each URL argument a page route takes."""
    settings.GRM_RELEASE_DIR = tmp_path / "releases"  # the release's file
    dataset = DatasetFactory.create(name="csrf")
    query = QueryFactory.create(dataset=dataset)
    for position in range(2):
        ResponseFactory.create(query=query, position=position)
    run = RunFactory.create(dataset=dataset, k=1)
    sample = SampleFactory.create(run=run, query=query, sample_index=0)
    VerdictFactory.create(run=run, query=query)
    queue = queue_create(name="csrf", dataset=dataset, run=run, filters=QueueFilters(), priority="unreviewed")
    token, _ = api_token_create(user=admin_user, name="csrf")
    upload = Upload.objects.create(dataset_name=dataset.name, dataset=dataset, format="native", status="partial")
    UploadError.objects.create(upload=upload, line=2, field="responses", message="is required")
    return {
        "number": round_create(name="csrf").number,
        "name": dataset.name,
        "query_id": query.pk,
        "sample_id": sample.pk,
        "run_id": run.pk,
        "token_id": token.pk,
        "queue_id": queue.pk,
        "item_id": QueueItem.objects.get(queue=queue).pk,
        "release_id": ReleaseFactory.create().pk,
        "upload_id": upload.pk,
        "annotation_id": annotation_submit(reviewer=admin_user, sample=sample, decision="accept").pk,
    }
