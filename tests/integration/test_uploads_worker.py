"""An upload over real HTTP, ingested by a real Celery worker process on the configured broker and database."""

from __future__ import annotations

import http.client
import json

import pytest

from reviews.models import Query, Upload
from reviews.services.accounts import api_token_create
from tests.conftest import shared_data, wait_for

pytestmark = pytest.mark.integration


def test_an_upload_is_received_by_the_web_server_and_ingested_by_a_worker(
    live_server, celery_workers, admin_user, settings, tmp_path
):
    settings.GRM_UPLOAD_DIR = tmp_path / "uploads"
    celery_workers.start(GRM_UPLOAD_DIR=str(settings.GRM_UPLOAD_DIR))
    _, token = api_token_create(user=admin_user, name="integration")
    body = shared_data("llmbar/Natural.json").read_bytes()
    host, port = live_server.thread.host, live_server.thread.port

    def post(query: str) -> dict:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.request(
            "POST",
            f"/api/v1/uploads/?{query}",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        answer = conn.getresponse()
        assert answer.status == 202
        return json.loads(answer.read())

    first = post("dataset=natural&format=llmbar")
    done = wait_for(
        lambda: Upload.objects.filter(pk=first["id"], status__in=Upload.ENDED).first(),
        timeout=120,
        what="the worker to ingest the upload",
    )
    assert (done.status, done.items, done.created, done.error_count) == ("done", 100, 100, 0)
    assert Query.objects.filter(dataset__name="natural").count() == 100
    assert not any(settings.GRM_UPLOAD_DIR.iterdir())  # the body is deleted once ingested

    again = post("dataset=natural&format=llmbar")
    repeated = wait_for(
        lambda: Upload.objects.filter(pk=again["id"], status__in=Upload.ENDED).first(),
        timeout=120,
        what="the worker to ingest the second upload",
    )
    assert (repeated.status, repeated.created, repeated.unchanged) == ("done", 0, 100)
