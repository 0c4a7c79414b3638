"""The load benchmark, small enough for CI (issue 14): 32 reviewers on gunicorn for 10 seconds while an
API upload and a GRM run are in progress, against PostgreSQL, Redis and real workers; every request
answered, the upload stored whole, no item annotated twice. `make bench ONLY=load` runs the full size
(60 s, 100,000 items) and prints each page's p95; this test asserts no time."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def other_redis_db(url: str) -> str:
    """The same Redis server, three databases on."""
    parts = urlsplit(url)
    number = (int(parts.path.strip("/") or 0) + 3) % 16
    return urlunsplit(parts._replace(path=f"/{number}"))


def test_32_reviewers_meet_no_error_while_an_upload_and_a_run_are_in_progress(tmp_path):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("the load test runs on PostgreSQL and Redis: set DATABASE_URL and REDIS_URL (CI does)")
    db = connection.settings_dict
    host = f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = {
        **os.environ,
        # Its own database (the benchmark creates and drops test_grm_load_ci) and Redis database, so the
        # benchmark's purge and its workers never meet this test session's.
        "DATABASE_URL": f"{host}/grm_load_ci",
        "REDIS_URL": other_redis_db(settings.REDIS_URL),
        "GRM_DATA_DIR": str(tmp_path),
        "GRM_BENCH_LOAD_SECONDS": "10",
        "GRM_BENCH_LOAD_QUERIES": "300",
        "GRM_BENCH_LOAD_UPLOAD_ITEMS": "10000",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench", "load"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]
    figures = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert "load_skipped" not in figures, figures
    assert figures["load_reviewers"] == "32"
    assert int(figures["load_requests"]) > 32, figures
    assert figures["load_errors"] == "0", done.stderr[-4000:]
    assert figures["load_upload_status"] == "done", figures
    assert figures["load_upload_items_stored"] == "10000"
    assert figures["load_items_annotated_twice"] == "0"
    for page in ("annotate", "queue", "home", "dataset", "query", "search", "run", "run_progress"):
        assert f"load_{page}_p95_ms" in figures, page  # every page was visited and timed
