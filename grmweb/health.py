"""`/healthz` for load balancers and container health checks.

Answered by the first middleware, before the host check and the HTTPS redirect, so a probe on
localhost over plain HTTP works whatever GRM_ALLOWED_HOSTS and GRM_HTTPS say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)
PATH = "/healthz"


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != PATH:
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception:  # any database failure means unhealthy, whatever its class
            logger.exception("health check: the database does not answer")
            response: HttpResponse = JsonResponse({"status": "error", "database": "unavailable"}, status=503)
        else:
            response = JsonResponse({"status": "ok", "database": connection.vendor})
        response["Cache-Control"] = "no-store"
        return response
