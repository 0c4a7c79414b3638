"""A real Celery worker with GRM_LOG_FORMAT=json: its log lines are JSON objects that carry the task's id and
the row it works on (grmweb/logcontext.py; the formats themselves: tests/project/test_json_logs.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def worker_json_lines(path: Path) -> list[dict]:
    """The JSON objects of a worker's log (its banner and other plain output skipped)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def test_a_worker_logs_json_lines_with_the_task_and_its_row(celery_workers):
    """A real worker with GRM_LOG_FORMAT=json: the lines logged while a task runs carry its id and the
    upload or run it works on, and nothing of one task is left on the next one's lines."""
    from grmweb.celery import app

    worker = celery_workers.start(GRM_LOG_FORMAT="json")
    missing_upload, missing_run = 987654, 876543
    ingest = app.send_task("workers.tasks.ingest_upload", args=[missing_upload])
    assert ingest.get(timeout=60) is None  # no such upload: nothing to do
    report = app.send_task("workers.tasks.run_report", args=[missing_run])
    with pytest.raises(Exception, match="Run matching query does not exist"):
        report.get(timeout=60)

    def task_lines() -> tuple[list[dict], list[dict]] | None:
        lines = worker_json_lines(worker.log)
        ingested = [line for line in lines if line.get("task_id") == ingest.id]
        reported = [line for line in lines if line.get("task_id") == report.id and line.get("exc_info")]
        return (ingested, reported) if ingested and reported else None

    ingested, reported = wait_for(task_lines, timeout=30, what="the worker's JSON lines of both tasks")
    assert all(line["upload_id"] == missing_upload for line in ingested)
    assert all(line["task"] == "workers.tasks.ingest_upload" for line in ingested)
    assert any(line["level"] == "INFO" and "succeeded" in line["message"] for line in ingested)
    [failure] = reported
    assert (failure["level"], failure["run_id"], failure["task"]) == ("ERROR", missing_run, "workers.tasks.run_report")
    assert "DoesNotExist" in failure["exc_info"]
    assert "upload_id" not in failure  # the first task's row is gone by the second's
    assert failure["process"] == worker.pid
    assert datetime.fromisoformat(failure["time"]).utcoffset() == timedelta(0)
