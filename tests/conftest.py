"""Shared fixtures: users with roles, logged-in clients, and a real Celery worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from reviews.models import Dataset, ModelConfig, PromptTemplate
from reviews.services.configs import defaults_ensure
from reviews.services.datasets import demo_load
from tests.factories import PASSWORD, UserFactory
from tests.processes import celery_worker, process_env

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A file of ../shared/data, or a skip naming it where the folder is absent (a user's machine)."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"public test data not found at {path} (it lives beside the checkout in CI)")
    return path


class SentTasks(list):
    """The tasks the domain sent through `reviews.enqueue`, as (task name, args), none reaching a broker.
    `run` maps a task name to a function that runs it in place instead (e.g. the upload's ingestion)."""

    def __init__(self) -> None:
        super().__init__()
        self.run: dict[str, object] = {}

    def send(self, name: str, *args: object) -> None:
        self.append((name, args))
        if name in self.run:
            self.run[name](*args)  # type: ignore[operator]

    def ids(self, name: str) -> list[object]:
        """The first argument (a row id) of each task of this name, in the order sent."""
        return [args[0] for sent, args in self if sent == name]


@pytest.fixture(autouse=True)
def quick_password_hashing(settings) -> None:
    """MD5 instead of PBKDF2's million rounds: tests create and log in many users, and hashing is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def failures_unthrottled(monkeypatch) -> None:
    """Failed sign-ins and tokens are counted in the cache, which outlives a test (Redis): many tests fail
    on purpose from one address, so here the limits are out of reach (tests/pages/test_throttling.py
    sets its own)."""
    rates = {"login_failures": "1000000/day", "token_failures": "1000000/day"}
    monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES", rates)


@pytest.fixture
def sent_tasks(monkeypatch) -> SentTasks:
    sent = SentTasks()
    monkeypatch.setattr("reviews.enqueue.send", sent.send)
    return sent


@pytest.fixture
def demo(db) -> tuple[Dataset, PromptTemplate, ModelConfig]:
    """The demo dataset, with the default prompt template and model configuration (for `start_run`)."""
    demo_load()
    template, model = defaults_ensure()
    return Dataset.objects.get(name="demo"), template, model


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


class WorkerProcesses:
    """Starts real `celery worker` processes on the configured broker and database; stops them at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        index = len(self.started)
        log = Path(settings.DATA_DIR) / f"worker-{os.getpid()}-{index}.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                celery_worker(
                    "-Q", "cpu,gpu", "--pool=solo", "--loglevel=INFO", "-n", f"test-{os.getpid()}-{index}@%h"
                ),
                cwd=ROOT,
                env=process_env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker.log = log  # type: ignore[attr-defined]
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait()
            if worker.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
                print(worker.log.read_text()[-4000:])  # type: ignore[attr-defined]


@pytest.fixture
def celery_workers(django_db_serialized_rollback, transactional_db) -> Iterator[WorkerProcesses]:
    # Every transactional test restores the migrations' data (roles, failure modes, content types) by
    # serialized rollback: one that flushed without it would re-create content types under new ids,
    # and the next test restoring them would collide (Django #23727).
    purge_queues()  # no message left over from another test reaches these workers
    workers = WorkerProcesses()
    try:
        yield workers
    finally:
        workers.stop_all()


def purge_queues() -> None:
    """Empty the cpu and gpu queues by name (`app.control.purge()` empties only the queues this process
    has sent to, never gpu: a killed worker's batches would reach the next test's workers)."""
    from grmweb.celery import app

    queues = {settings.CELERY_TASK_DEFAULT_QUEUE, *(route["queue"] for route in settings.CELERY_TASK_ROUTES.values())}
    with app.connection_for_write() as broker:
        for name in sorted(queues):
            broker.default_channel.queue_purge(name)  # type: ignore[attr-defined]


@pytest.fixture
def celery_worker_process(celery_workers) -> subprocess.Popen[bytes]:
    return celery_workers.start()


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
