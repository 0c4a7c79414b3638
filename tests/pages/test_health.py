"""The health check: answers probes on any host over plain HTTP and names no database detail."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_answers_probes_on_any_host_over_plain_http(client, settings):
    settings.ALLOWED_HOSTS = ["grm.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", HTTP_HOST="localhost:8000").status_code == 200
    assert client.get("/", HTTP_HOST="localhost:8000").status_code == 400


def test_healthz_does_not_leak_database_details(client, monkeypatch):
    from django.db import connection

    def broken_cursor():
        raise RuntimeError("password authentication failed for user secret_user at db.internal")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert b"secret_user" not in response.content


def test_healthz_reports_the_broker_and_each_worker_s_heartbeat_with_its_age(client, settings):
    from datetime import timedelta

    from django.utils import timezone

    from reviews.models import WorkerHeartbeat

    settings.GRM_WORKER_HEARTBEAT_SECONDS = 30
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="gpu@a", queues="gpu", started_at=now, seen_at=now - timedelta(seconds=12))
    WorkerHeartbeat.objects.create(name="cpu@b", queues="cpu", started_at=now, seen_at=now - timedelta(seconds=600))
    body = client.get("/healthz").json()
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["broker"]["kind"] == ("redis" if settings.CELERY_BROKER_URL.startswith("redis") else "filesystem")
    workers = {worker["name"]: worker for worker in body["workers"]}
    assert 12 <= workers["gpu@a"]["age_seconds"] < 20
    assert workers["gpu@a"]["stale"] is False
    assert workers["cpu@b"]["stale"] is True  # silent for more than three heartbeats
    assert workers["cpu@b"]["queues"] == "cpu"


def test_healthz_fails_when_the_broker_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"] == {"ok": False, "kind": "redis", "error": "unavailable"}
    assert body["database"]["ok"] is True
