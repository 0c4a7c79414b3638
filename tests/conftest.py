"""Shared fixtures: users with roles, logged-in clients, and a real Celery worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.factories import PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A file of ../shared/data, or a skip naming it where the folder is absent (a user's machine)."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"public test data not found at {path} (it lives beside the checkout in CI)")
    return path


@pytest.fixture
def admin_user(db):
    return UserFactory.create(username="alice-admin", roles=["admin"], is_staff=True)


@pytest.fixture
def reviewer_user(db):
    return UserFactory.create(username="rita-reviewer", roles=["reviewer"])


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.login(username=admin_user.username, password=PASSWORD)
    return client


@pytest.fixture
def reviewer_client(reviewer_user) -> Client:
    client = Client()
    client.login(username=reviewer_user.username, password=PASSWORD)
    return client


def process_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that must use the test database and this test's broker."""
    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or ''}{':' + db['PASSWORD'] if db['PASSWORD'] else ''}@"
            f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env.update(extra)
    return env


@pytest.fixture
def celery_worker_process(transactional_db) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` process on the configured broker, consuming both queues."""
    log = Path(settings.DATA_DIR) / f"worker-{os.getpid()}.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "grmweb",
                "worker",
                "-Q",
                "cpu,gpu",
                "--pool=solo",
                "--loglevel=INFO",
                "-n",
                f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=process_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if worker.returncode not in (0, -15):
            print(log.read_text()[-4000:])


def wait_for(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def pytest_report_header(config) -> list[str]:
    """State in the log which database and broker this run uses (CI must show PostgreSQL and Redis)."""
    db = settings.DATABASES["default"]
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    return [
        f"grm services: database={db['ENGINE'].rsplit('.', 1)[-1]} ({db.get('HOST') or db['NAME']}), broker={broker}"
    ]
