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
