"""The API's answer to a domain error (settings.REST_FRAMEWORK's EXCEPTION_HANDLER): the status code
for each `reviews.errors` class lives here, and the body names the field when the error does."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import SuspiciousOperation
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from reviews.errors import ApplicationError, Conflict, StorageFull, StorageUnavailable, TooLarge


def status_for(error: ApplicationError) -> int:
    if isinstance(error, TooLarge):
        return status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    if isinstance(error, Conflict):
        return status.HTTP_409_CONFLICT
    if isinstance(error, StorageFull):
        return status.HTTP_507_INSUFFICIENT_STORAGE
    if isinstance(error, StorageUnavailable):
        return status.HTTP_503_SERVICE_UNAVAILABLE
    return status.HTTP_400_BAD_REQUEST


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's own handling, plus domain errors: `{"<field>": ["<message>"]}` or `{"detail": "<message>"}`,
    and a body Django refuses to read (more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS, say) as a JSON 400
    rather than Django's HTML page."""
    if isinstance(exc, ApplicationError):
        body: dict[str, Any] = {exc.field: [exc.message]} if exc.field else {"detail": exc.message}
        return Response(body, status=status_for(exc))
    if isinstance(exc, SuspiciousOperation):
        return Response({"detail": f"The request body was refused: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
    return exception_handler(exc, context)
