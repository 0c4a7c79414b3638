"""The ids a log line is about: the web request, the Celery task, and the run, upload, release or meta RM
checkpoint it works on.

They live in context variables, set by `RequestIdMiddleware` for a request and by the task signal
receivers below (connected in grmweb/celery.py) for a task; `ContextFilter`, on the console handler
(settings.LOGGING), copies them onto every record, where the JSON formatter writes them as fields and
`PlainFormatter` after the message. Threads a task starts (the run heartbeat) do not carry them.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token, copy_context
from typing import TYPE_CHECKING, Any

from django.utils.log import log_response

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

FIELDS = ("request_id", "task", "task_id", "run_id", "upload_id", "release_id", "checkpoint_id")
_values: dict[str, ContextVar[object]] = {name: ContextVar(f"grm_log_{name}", default=None) for name in FIELDS}

# The row each task works on, by task name: its first argument (workers/tasks.py) and that id's name.
TASK_SUBJECTS = {
    "workers.tasks.run_start": "run_id",
    "workers.tasks.gpu_sample_batch": "run_id",
    "workers.tasks.run_report": "run_id",
    "workers.tasks.gpu_metarm_score": "run_id",
    "workers.tasks.ingest_upload": "upload_id",
    "workers.tasks.release_build": "release_id",
    "workers.tasks.gpu_metarm_train": "checkpoint_id",
}
# The rows a URL names: pages call them run_id, upload_id, release_id; the API calls each one `pk`, and
# its route's name (api-run-cancel, api-upload, api-release-file) says of what.
URL_SUBJECTS = ("run_id", "upload_id", "release_id")
API_PK_SUBJECTS = {"run": "run_id", "upload": "upload_id", "release": "release_id"}

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's request id is kept only when short and plain: it goes into every line of the request's log.
_GIVEN_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def current() -> dict[str, object]:
    """The ids set in this context; unset ones are left out."""
    values = {name: var.get() for name, var in _values.items()}
    return {name: value for name, value in values.items() if value is not None}


def bind(**ids: object) -> list[Token[object]]:
    """Set ids (names from FIELDS) in this context; `unbind(tokens)` puts the earlier values back."""
    return [_values[name].set(value) for name, value in ids.items()]


def unbind(tokens: list[Token[object]]) -> None:
    for token in reversed(tokens):
        try:
            token.var.reset(token)
        except ValueError:  # set in another context (a pool that switched): clear it rather than leak it
            token.var.set(None)


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    tokens = bind(**ids)
    try:
        yield
    finally:
        unbind(tokens)


class ContextFilter(logging.Filter):
    """Copies the context's ids onto each record; a record's own `extra` of the same name wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if name not in record.__dict__:
                setattr(record, name, value)
        return True


class PlainFormatter(logging.Formatter):
    """The plain line, with the record's ids after the message: `... message [task_id=... run_id=7]`."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        ids = " ".join(f"{name}={record.__dict__[name]}" for name in FIELDS if record.__dict__.get(name) is not None)
        return f"{line} [{ids}]" if ids else line


# --- Celery: a task's ids from its prerun to its postrun (receivers connected in grmweb/celery.py).
_tasks = threading.local()  # per worker thread (greenlet under gevent): a stack, for eager tasks inside tasks


def task_subjects(task_name: str, args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any]) -> dict[str, object]:
    """The row id a task's arguments name, as {id name: id}; empty for a task not in TASK_SUBJECTS."""
    subject = TASK_SUBJECTS.get(task_name)
    if subject is None:
        return {}
    value = args[0] if args else kwargs.get(subject)
    if isinstance(value, int) and not isinstance(value, bool):
        return {subject: value}
    return {}


def task_started(
    sender: Any = None,
    task_id: str | None = None,
    args: tuple[Any, ...] | list[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    """task_prerun: the task's id and name, and the row it works on."""
    name = str(getattr(sender, "name", "") or "")
    ids = {"task_id": task_id, "task": name or None, **task_subjects(name, args or (), kwargs or {})}
    stack = _tasks.__dict__.setdefault("stack", [])
    stack.append(bind(**ids))


def task_ended(**_: Any) -> None:
    """task_postrun: the ids of the task that ended are gone before the next one starts."""
    stack = _tasks.__dict__.get("stack")
    if stack:
        unbind(stack.pop())


# --- Web: a request id for each request, and the run, upload or release its URL names.
def url_subjects(url_name: str | None, kwargs: Mapping[str, Any]) -> dict[str, object]:
    ids: dict[str, object] = {name: kwargs[name] for name in URL_SUBJECTS if isinstance(kwargs.get(name), int)}
    if url_name and url_name.startswith("api-") and isinstance(kwargs.get("pk"), int):
        subject = API_PK_SUBJECTS.get(url_name.split("-")[1])
        if subject:
            ids[subject] = kwargs["pk"]
    return ids


def request_id_of(request: HttpRequest) -> str:
    """The proxy's X-Request-ID when it is short and plain, else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _GIVEN_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the request's id (and, once its view is known, the run, upload or release it names) for every
    line the request logs, and answers the id in X-Request-ID."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        # A context of its own: what this request sets, here and in process_view, ends with it.
        response = copy_context().run(self._respond, request, request_id)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def _respond(self, request: HttpRequest, request_id: str) -> HttpResponse:
        bind(request_id=request_id)
        response = self.get_response(request)
        if response.status_code >= 400:
            # Django logs a 404 or a 4xx a view returned only after the middleware, outside this context:
            # logged here (the same line, once: it marks the response), it carries the ids.
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        url_name = request.resolver_match.url_name if request.resolver_match else None
        bind(**url_subjects(url_name, kwargs))
