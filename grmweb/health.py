"""`/healthz` for load balancers and container health checks.

Answered by the first middleware, before the host check and the HTTPS redirect, so a probe on
localhost over plain HTTP works whatever GRM_ALLOWED_HOSTS and GRM_HTTPS say.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)
PATH = "/healthz"


def _database() -> dict[str, object]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database failure means unhealthy, whatever its class
        logger.exception("health check: the database does not answer")
        return {"ok": False, "error": "unavailable"}
    return {"ok": True, "vendor": connection.vendor, "ms": round(1000 * (time.monotonic() - started), 1)}


def _broker() -> dict[str, object]:
    """Redis answers PING (1 s at most), or the embedded broker's folder is there."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return {"ok": folder.is_dir(), "kind": "filesystem"}
    started = time.monotonic()
    try:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:  # a refused connection, a timeout, a password error: the broker is away
        logger.warning("health check: the broker does not answer: %s", exc)
        return {"ok": False, "kind": "redis", "error": "unavailable"}
    return {"ok": True, "kind": "redis", "ms": round(1000 * (time.monotonic() - started), 1)}


_redis_clients: dict[str, redis.Redis] = {}


def _workers() -> list[dict[str, object]]:
    from reviews.selectors.workers import workers_health  # the app registry is ready by the first request

    return [
        {"name": worker.name, "queues": worker.queues, "age_seconds": worker.age_seconds, "stale": worker.stale}
        for worker in workers_health()
    ]


class HealthCheckMiddleware:
    """`/healthz`: the database, the broker and the workers' heartbeats (each with its age). 503 when
    the database or the broker does not answer (this web process cannot serve); missing or stale
    workers are reported, not failed on: the web still serves while workers restart."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != PATH:
            return self.get_response(request)
        database = _database()
        broker = _broker()
        healthy = bool(database["ok"]) and bool(broker["ok"])
        body: dict[str, object] = {"status": "ok" if healthy else "error", "database": database, "broker": broker}
        if database["ok"]:
            try:
                body["workers"] = _workers()
            except Exception:  # the heartbeats' table missing (before migrations): say so, stay up
                logger.exception("health check: the workers' heartbeats cannot be read")
                body["workers"] = "unknown"
        response = JsonResponse(body, status=200 if healthy else 503)
        response["Cache-Control"] = "no-store"
        return response
