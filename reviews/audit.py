"""The audit trail (django-auditlog; which models and fields: AUDITLOG_INCLUDE_TRACKING_MODELS in settings).

The actor for API calls. AuditlogMiddleware takes the actor from the session's user when
the request arrives; a bearer token is only read later, by DRF inside the view, so the token's user is
set here, on the request's audit context, once the token is accepted."""

from __future__ import annotations

from typing import Any

from auditlog.context import auditlog_value
from auditlog.models import LogEntry


def act_as(user: Any) -> None:
    """Name `user` as the actor of what the current request changes from now on."""
    context = auditlog_value.get(None)
    if context is not None and context.get("actor") is None:
        context["actor"] = user


def record_update(instance: Any, **changes: tuple[Any, Any]) -> None:
    """Put a change made by a conditional `update()` (which sends no signal) in the audit trail, as
    django-auditlog records a save: each field's previous and new value, by the request's actor."""
    LogEntry.objects.log_create(
        instance,
        action=LogEntry.Action.UPDATE,
        changes={name: [_text(old), _text(new)] for name, (old, new) in changes.items()},
    )


def _text(value: Any) -> str:
    return "None" if value is None else str(value)
