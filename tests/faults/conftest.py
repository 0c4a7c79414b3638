"""The fault suite's parts (issue 14): a Redis server each test owns, web processes it can kill, and a
judge that answers like `vllm serve` (an OpenAI-compatible server on loopback, tests/openai_server.py).

Every test here runs on PostgreSQL and Redis with real worker processes (marker `faults`, in `make test`);
on SQLite or the filesystem broker it is skipped with the reason, since what it breaks is not there.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from reviews.models import Run, Sample, Upload, Verdict
from reviews.selectors.runs import run_queries
from reviews.services.accounts import api_token_create
from tests.conftest import ROOT, wait_for
from tests.processes import process_env


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def real_services() -> None:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("the fault suite breaks PostgreSQL and Redis: set DATABASE_URL and REDIS_URL (CI does)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server process of the test's own, on its own port: stopped and started at will. `kept`:
    with an append-only file, as docker-compose runs it (what was queued survives a restart); without,
    a restart loses every message, as a Redis without persistence would."""

    folder: Path
    kept: bool
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not on PATH (Debian's redis-server package provides it)")
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.kept else ["--appendonly", "no"]
        with (self.folder / "redis.log").open("ab") as log:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.folder),
                    "--save",
                    "",
                    *persistence,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_for(lambda: _answers(client), timeout=20, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        """SIGTERM: Redis ends as `docker restart` would end it (writing what it keeps)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def queued(self) -> int:
        """Messages waiting in the Celery queues."""
        client = redis.Redis.from_url(self.url)
        return sum(int(client.llen(queue)) for queue in ("cpu", "gpu"))


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(tmp_path) -> Iterator[Callable[..., RedisServer]]:
    servers: list[RedisServer] = []

    def start(*, kept: bool = True) -> RedisServer:
        folder = tmp_path / f"redis-{len(servers)}"
        folder.mkdir()
        server = RedisServer(folder=folder, kept=kept)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@dataclass
class WebProcess:
    """gunicorn serving the app (as `make run` and docker-compose start it) on its own port."""

    env: dict[str, str]
    log: Path
    limit_file_bytes: int | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> WebProcess:
        command = [
            sys.executable, "-m", "gunicorn", "-c", "grmweb/gunicorn.conf.py", "grmweb.wsgi",
            "--bind", f"127.0.0.1:{self.port}",
        ]  # fmt: skip
        limit = self.limit_file_bytes

        def limit_files() -> None:  # a disk that fills: writes past this size fail (EFBIG)
            if limit is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=limit_files if limit is not None else None,
            )
        wait_for(self._healthy, timeout=60, what="gunicorn to answer /healthz")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            return self.request("GET", "/healthz")[0] in (200, 503)
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL to every process of the server: a crash, an OOM kill, a pulled plug."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            answer = conn.getresponse()
            data = answer.read()
        finally:
            conn.close()
        try:
            return answer.status, json.loads(data)
        except ValueError:
            return answer.status, data.decode(errors="replace")


@pytest.fixture
def web_processes(tmp_path) -> Iterator[Callable[..., WebProcess]]:
    """Start gunicorn on the test database with extra environment (REDIS_URL of an own Redis, say)."""
    started: list[WebProcess] = []

    def start(*, limit_file_bytes: int | None = None, **env: str) -> WebProcess:
        values = process_env(GRM_DEBUG="1", GRM_WEB_WORKERS="1", GRM_LOG_FORMAT="plain", **env)
        web = WebProcess(env=values, log=tmp_path / f"web-{len(started)}.log", limit_file_bytes=limit_file_bytes)
        started.append(web)
        return web.start()

    yield start
    for web in started:
        web.stop()


@pytest.fixture
def admin_token(admin_user) -> str:
    _, token = api_token_create(user=admin_user, name="faults")
    return token


def bearer(token: str, content_type: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": content_type}


def upload_body(items: int, *, start: int = 0) -> bytes:
    """JSON Lines of labelled pairs in the project's own format."""
    lines = (
        json.dumps(
            {
                "id": f"item-{n}",
                "prompt": f"Which answer to question {n}?",
                "responses": [f"A {n}", f"B {n}"],
                "best": 0,
            }
        )
        for n in range(start, start + items)
    )
    return ("\n".join(lines) + "\n").encode()


def wait_for_run(run_id: int, *, timeout: float) -> Run:
    return wait_for(
        lambda: (run := Run.objects.get(id=run_id)) and not run.is_active and run,
        timeout=timeout,
        interval=1,
        what=f"run {run_id} to end",
    )


def assert_exactly_k_per_query(run: Run) -> None:
    """The run ended done, every query has exactly k samples and one verdict: nothing lost, nothing doubled."""
    run.refresh_from_db()
    assert run.status == Run.Status.DONE, run.error_message
    expected = set(run_queries(dataset=run.dataset, query_filter=run.query_filter).values_list("id", flat=True))
    per_query: dict[int, int] = {}
    for query_id in Sample.objects.filter(run=run).values_list("query_id", flat=True):
        per_query[query_id] = per_query.get(query_id, 0) + 1
    assert set(per_query) == expected
    assert set(per_query.values()) == {run.k}
    assert Verdict.objects.filter(run=run).count() == len(expected) == run.queries_done
    assert run.failed_query_ids == []


def wait_for_upload(upload_id: int, *, timeout: float) -> Upload:
    return wait_for(
        lambda: Upload.objects.filter(pk=upload_id, status__in=Upload.ENDED).first(),
        timeout=timeout,
        interval=0.5,
        what=f"upload {upload_id} to end",
    )


@pytest.fixture
def beat_process(tmp_path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """celery beat, the watchdog's clock, as its own process (as in docker-compose)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        log = tmp_path / f"beat-{len(started)}.log"
        command = [sys.executable, "-m", "celery", "-A", "grmweb", "beat", "--loglevel=INFO"]
        command += ["-s", str(tmp_path / f"beat-schedule-{len(started)}")]
        with log.open("ab") as out:
            beat = subprocess.Popen(
                command, cwd=ROOT, env=process_env(**env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started.append(beat)
        return beat

    yield start
    for beat in started:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGTERM)
            try:
                beat.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(beat.pid, signal.SIGKILL)
                beat.wait()
