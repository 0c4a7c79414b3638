"""Structured logs (issue 14): one JSON object per line with the request, task, run and upload ids
(grmweb/logcontext.py, settings.LOGGING). A real worker's lines: tests/integration/test_worker_logs.py."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from logging.config import DictConfigurator
from types import SimpleNamespace
from typing import Any

import pytest
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from grmweb import logcontext
from grmweb.env import env_choice
from tests.conftest import ROOT

HOSTILE = 'line one\nline two\r\n{"level": "CRITICAL"}\x00\x1b[31m\u2028\u0085\x1c "quoted" \\ é'


def configured(kind: str, name: str) -> Any:
    """The formatter, handler or filter `name` exactly as settings.LOGGING builds it."""
    configurator = DictConfigurator(copy.deepcopy(settings.LOGGING))
    section = configurator.config[kind]
    builder = {"formatters": configurator.configure_formatter, "filters": configurator.configure_filter}[kind]
    return builder(section[name])


class Captured:
    """A logger of its own whose lines go to a string, through the settings' formatter and context filter."""

    def __init__(self, fmt: str) -> None:
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(configured("formatters", fmt))
        handler.addFilter(configured("filters", "context"))
        self.logger = logging.getLogger(f"grm.test.logs.{fmt}")
        self.logger.handlers = [handler]
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)

    def lines(self) -> list[str]:
        return self.stream.getvalue().split("\n")[:-1]

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def json_log() -> Iterator[Captured]:
    captured = Captured("json")
    yield captured
    captured.logger.handlers = []


def test_a_json_line_has_the_fields_and_the_exception(json_log):
    json_log.logger.info("run %s started", 7)
    try:
        raise ZeroDivisionError("nothing to divide")
    except ZeroDivisionError:
        json_log.logger.exception("batch failed")
    started, failed = json_log.records()
    assert {key: started[key] for key in ("level", "logger", "message", "process")} == {
        "level": "INFO",
        "logger": "grm.test.logs.json",
        "message": "run 7 started",
        "process": os.getpid(),
    }
    when = datetime.fromisoformat(started["time"])
    assert when.utcoffset() == timedelta(0)
    assert abs(datetime.now(when.tzinfo) - when) < timedelta(minutes=1)
    assert "exc_info" not in started
    assert failed["level"] == "ERROR"
    assert failed["exc_info"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: nothing to divide" in failed["exc_info"]


def test_untrusted_text_stays_inside_one_line(json_log):
    """A model's or an uploader's text in a message, an exception or an extra field cannot start a new
    line, forge a field, or write a control character to the terminal."""
    json_log.logger.warning("upload failed: %s", HOSTILE, extra={"source": HOSTILE})
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        json_log.logger.exception(HOSTILE)
    lines = json_log.lines()
    assert len(lines) == 2
    for line in lines:
        assert line.isascii()
        assert all(" " <= char <= "~" for char in line), line
        assert len(line.splitlines()) == 1
    warning, error = json_log.records()
    assert warning["message"] == f"upload failed: {HOSTILE}"
    assert warning["source"] == HOSTILE
    assert warning["level"] == "WARNING"
    assert error["message"] == HOSTILE
    assert error["exc_info"].endswith(f"ValueError: {HOSTILE}")


def test_the_filter_adds_the_context_ids_and_nothing_after_reset(json_log):
    with logcontext.bound(run_id=7, task_id="task-1", task="workers.tasks.run_report"):
        json_log.logger.info("inside")
        json_log.logger.info("own id wins", extra={"run_id": 9})
        with logcontext.bound(upload_id=3):
            json_log.logger.info("nested")
        json_log.logger.info("nested ended")
    json_log.logger.info("outside")
    inside, own, nested, nested_ended, outside = json_log.records()
    assert (inside["run_id"], inside["task_id"], inside["task"]) == (7, "task-1", "workers.tasks.run_report")
    assert "upload_id" not in inside
    assert own["run_id"] == 9
    assert (nested["run_id"], nested["upload_id"]) == (7, 3)
    assert "upload_id" not in nested_ended
    assert not set(logcontext.FIELDS) & set(outside)
    assert logcontext.current() == {}


def test_the_plain_format_puts_the_ids_after_the_message():
    plain = Captured("plain")
    with logcontext.bound(task_id="task-2", upload_id=4):
        plain.logger.info("ingesting")
    plain.logger.info("idle")
    ingesting, idle = plain.lines()
    assert ingesting.endswith(" INFO grm.test.logs.plain: ingesting [task_id=task-2 upload_id=4]")
    assert idle.endswith(" INFO grm.test.logs.plain: idle")


def test_task_signals_set_the_task_and_its_row_and_clear_them(json_log):
    """The receivers grmweb/celery.py connects, sent the signals as a worker sends them around a task."""
    from workers import tasks

    cases: list[tuple[Any, tuple[object, ...], dict[str, int], dict[str, int]]] = [
        (tasks.ingest_upload, (12,), {}, {"upload_id": 12}),
        (tasks.gpu_sample_batch, (5, [1, 2, 3]), {}, {"run_id": 5}),
        (tasks.release_build, (), {"release_id": 8}, {"release_id": 8}),
        (tasks.gpu_metarm_train, (2,), {}, {"checkpoint_id": 2}),
        (tasks.run_report, ("not an id",), {}, {}),
        (tasks.ping, (), {}, {}),
    ]
    for task, args, kwargs, row in cases:
        signal = {"sender": task, "task_id": f"id-{task.name}", "task": task, "args": args, "kwargs": kwargs}
        task_prerun.send(**signal)
        assert logcontext.current() == {"task_id": f"id-{task.name}", "task": task.name, **row}
        json_log.logger.info("working")
        task_postrun.send(**signal, retval=None, state="SUCCESS")
        assert logcontext.current() == {}
        json_log.logger.info("idle")
    lines = json_log.records()
    assert [line.get("task") for line in lines] == [name for task, *_ in cases for name in (task.name, None)]
    assert lines[0]["upload_id"] == 12

    outer = {"sender": tasks.run_start, "task_id": "outer", "task": tasks.run_start, "args": (1,), "kwargs": {}}
    inner = {"sender": tasks.ping, "task_id": "inner", "task": tasks.ping, "args": (), "kwargs": {}}
    task_prerun.send(**outer)
    task_prerun.send(**inner)  # an eager task run inside another
    assert logcontext.current() == {"task_id": "inner", "task": "workers.tasks.ping", "run_id": 1}
    task_postrun.send(**inner)
    assert logcontext.current() == {"task_id": "outer", "task": "workers.tasks.run_start", "run_id": 1}
    task_postrun.send(**outer)
    assert logcontext.current() == {}


def test_every_task_that_names_a_row_is_in_the_table():
    """The table's names are the tasks' real names, and the id each takes first is the one it names."""
    import inspect

    from workers import tasks

    by_name = {task.name: task for task in vars(tasks).values() if hasattr(task, "run") and hasattr(task, "name")}
    assert set(logcontext.TASK_SUBJECTS) <= set(by_name)
    for name, subject in logcontext.TASK_SUBJECTS.items():
        parameters = [p for p in inspect.signature(by_name[name].run).parameters if p != "self"]
        assert parameters[0] == subject, name


def middleware_answer(request: HttpRequest, kwargs: dict | None = None, url_name: str = "run-detail"):
    """The middleware around a view that records the log context it ran in."""
    seen: dict[str, object] = {}

    def view(request: HttpRequest) -> HttpResponse:
        middleware.process_view(request, view, (), kwargs or {})
        seen.update(logcontext.current())
        return HttpResponse("ok")

    middleware = logcontext.RequestIdMiddleware(view)
    request.resolver_match = SimpleNamespace(url_name=url_name)  # type: ignore[assignment]
    return middleware(request), seen


def test_the_middleware_gives_each_request_an_id_and_answers_it():
    response, seen = middleware_answer(RequestFactory().get("/runs/7/"), {"run_id": 7})
    generated = response["X-Request-ID"]
    assert len(generated) == 32
    assert int(generated, 16) >= 0
    assert seen == {"request_id": generated, "run_id": 7}
    assert logcontext.current() == {}  # nothing of the request outlives it

    again, _ = middleware_answer(RequestFactory().get("/runs/7/"), {"run_id": 7})
    assert again["X-Request-ID"] != generated

    given = RequestFactory().get("/api/v1/uploads/3/", HTTP_X_REQUEST_ID="lb-2f9c.41_a")
    response, seen = middleware_answer(given, {"pk": 3}, url_name="api-upload-errors")
    assert response["X-Request-ID"] == "lb-2f9c.41_a"
    assert seen == {"request_id": "lb-2f9c.41_a", "upload_id": 3}


@pytest.mark.parametrize(
    "hostile",
    [
        "x" * 65,
        "abc\r\nSet-Cookie: session=stolen",
        '"},{"level":"CRITICAL"',
        "<script>alert(1)</script>",
        "id with spaces",
        "-starts-with-a-dash",
        "é-unicode",
        "",
    ],
)
def test_the_middleware_replaces_a_hostile_request_id(hostile):
    response, seen = middleware_answer(RequestFactory().get("/", HTTP_X_REQUEST_ID=hostile))
    assert response["X-Request-ID"] != hostile
    assert len(response["X-Request-ID"]) == 32
    assert seen["request_id"] == response["X-Request-ID"]


def test_the_url_names_the_row():
    assert logcontext.url_subjects("run-detail", {"run_id": 4}) == {"run_id": 4}
    assert logcontext.url_subjects("release-file", {"release_id": 2, "name": "x"}) == {"release_id": 2}
    assert logcontext.url_subjects("api-run-cancel", {"pk": 5}) == {"run_id": 5}
    assert logcontext.url_subjects("api-release-file", {"pk": 6, "name": "x"}) == {"release_id": 6}
    assert logcontext.url_subjects("api-sample-adjudication", {"pk": 9}) == {}
    assert logcontext.url_subjects("dataset", {"name": "demo"}) == {}
    assert logcontext.url_subjects(None, {}) == {}


@pytest.mark.parametrize(("path", "row"), [("/runs/987654/", "run_id"), ("/api/v1/uploads/987654/", "upload_id")])
def test_a_request_logs_its_ids(reviewer_client, path, row):
    """Through the real middleware stack: the line Django logs for a missing run (a page's Http404) or
    upload (the API's 404 answer) carries the request id the answer names and the row id of the URL."""
    handler = Recorder()
    handler.addFilter(configured("filters", "context"))
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = reviewer_client.get(path)
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 404
    [record] = handler.records
    assert record.getMessage() == f"Not Found: {path}"
    assert record.__dict__["request_id"] == response["X-Request-ID"]
    assert record.__dict__[row] == 987654


def test_the_log_format_setting_is_checked(monkeypatch):
    monkeypatch.setenv("GRM_LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="GRM_LOG_FORMAT='xml' is not one of: json, plain"):
        env_choice("GRM_LOG_FORMAT", ("json", "plain"), "json")
    monkeypatch.setenv("GRM_LOG_FORMAT", " Plain ")
    assert env_choice("GRM_LOG_FORMAT", ("json", "plain"), "json") == "plain"
    monkeypatch.setenv("GRM_LOG_FORMAT", "")
    assert env_choice("GRM_LOG_FORMAT", ("json", "plain"), "json") == "json"


@pytest.mark.slow
def test_a_bad_log_format_stops_start_up():
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRM_")}
    env.update(GRM_DATA_DIR=os.environ.get("GRM_DATA_DIR", str(ROOT / "var" / "test")), GRM_LOG_FORMAT="xml")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "GRM_LOG_FORMAT='xml' is not one of: json, plain" in result.stderr
