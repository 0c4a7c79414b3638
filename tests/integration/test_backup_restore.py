"""A backup restored (issue 14): a `pg_dump -Fc` taken while a real Celery worker is writing a run, the
worker then killed, the dump restored into a new database with `pg_restore --no-owner`; on it the app
starts (`check`, `migrate --check`, gunicorn's `/healthz`) and a worker started on it finishes the run,
each query with exactly k samples and one verdict. docs/deploy.md ("Backups") describes these steps."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from reviews.models import Dataset, Run, Verdict
from reviews.selectors.runs import run_queries
from reviews.services.configs import defaults_ensure, model_config_for
from reviews.services.datasets import demo_load
from reviews.services.runs import run_create
from tests.conftest import ROOT, wait_for
from tests.integration.test_serve import free_port
from tests.openai_server import Script, openai_server
from tests.processes import process_env

K = 2
ACTIVE = (Run.Status.QUEUED.value, Run.Status.RUNNING.value)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="a pg_dump backup needs PostgreSQL (DATABASE_URL=postgres://...)",
    ),
    pytest.mark.skipif(
        not (shutil.which("pg_dump") and shutil.which("pg_restore")),
        reason="pg_dump and pg_restore are not on PATH (Debian: apt-get install postgresql-client)",
    ),
]


def connect(dbname: str) -> psycopg.Connection[Any]:
    """A connection of its own (autocommit) to `dbname` on the test database's server."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname=dbname,
        autocommit=True,
    )


def url_of(dbname: str) -> str:
    """DATABASE_URL of `dbname` on the test database's server, as child processes get it."""
    return process_env()["DATABASE_URL"].rsplit("/", 1)[0] + f"/{dbname}"


def pg_env() -> dict[str, str]:
    password = connection.settings_dict["PASSWORD"]
    return {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)


def restored_broker(tmp_path: Path) -> dict[str, str]:
    """A broker of the restored worker's own: the first worker's unacknowledged messages for the original
    database stay in its broker and would be redelivered to any worker there. With Redis, the next Redis
    database, which this test empties; with the filesystem broker, a data folder of its own."""
    if not settings.REDIS_URL:
        return {"GRM_DATA_DIR": str(tmp_path / "restored-data")}
    parts = urllib.parse.urlsplit(settings.REDIS_URL)
    number = int(parts.path.strip("/") or 0)
    return {"REDIS_URL": urllib.parse.urlunsplit(parts._replace(path=f"/{(number + 1) % 16}"))}


def empty_broker(env: dict[str, str]) -> None:
    if "REDIS_URL" in env:
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def restored_db() -> Iterator[str]:
    """The name of a new, empty database beside the test database, dropped at the end."""
    name = f"{connection.settings_dict['NAME']}_restored"
    with connect(connection.settings_dict["NAME"]) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # left by an aborted run
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield name
    finally:
        with connect(connection.settings_dict["NAME"]) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def healthz(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return {"http": response.status, **json.loads(response.read())}
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_a_dump_taken_during_a_run_restores_to_a_database_where_the_app_starts_and_the_run_ends(
    celery_workers, restored_db, tmp_path
):
    demo_load()
    template, _ = defaults_ensure()
    dataset = Dataset.objects.get(name="demo")
    with openai_server(Script(delay=1.0)) as url:
        judge = model_config_for(backend="openai", model="slow-judge", base_url=url)
        first = celery_workers.start()
        run = run_create(
            dataset=dataset, model_config=judge, template=template, k=K, batch_size=2, query_filter={"subset": "chat"}
        )
        queries = set(run_queries(dataset=dataset, query_filter=run.query_filter).values_list("id", flat=True))
        wait_for(lambda: Verdict.objects.filter(run=run).exists(), timeout=300, interval=0.5, what="a first batch")

        # The backup, taken while the worker writes the run's next batches.
        dump = tmp_path / "grm.dump"
        subprocess.run(
            ["pg_dump", "-Fc", "-f", str(dump), f"--dbname={url_of(connection.settings_dict['NAME'])}"],
            env=pg_env(),
            check=True,
            timeout=300,
        )
        assert first.poll() is None, "the worker ended before the dump was taken"
        os.killpg(first.pid, signal.SIGKILL)  # the disaster the backup stands for
        first.wait()
        verdicts_at_kill = Verdict.objects.filter(run=run).count()

        restored_url = url_of(restored_db)
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={restored_url}", str(dump)], env=pg_env(), check=True, timeout=300
        )
        with connect(restored_db) as restored:
            status, verdicts_in_dump, samples_in_dump = restored.execute(
                "SELECT status, (SELECT count(*) FROM reviews_verdict WHERE run_id = %(run)s),"
                " (SELECT count(*) FROM reviews_sample WHERE run_id = %(run)s) FROM reviews_run WHERE id = %(run)s",
                {"run": run.id},
            ).fetchone() or (None, 0, 0)
        assert status in ACTIVE
        assert 0 < verdicts_in_dump < len(queries), "the dump holds no run in progress: make the run slower"
        assert samples_in_dump == K * verdicts_in_dump  # one snapshot: a query's samples come with its verdict

        # The app starts on the restored database.
        restored_env = process_env(DATABASE_URL=restored_url)
        checked = manage("check", "--database", "default", env=restored_env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        migrations = manage("migrate", "--check", env=restored_env)
        assert migrations.returncode == 0, migrations.stdout + migrations.stderr
        port = free_port()
        bind = f"127.0.0.1:{port}"
        web_log = tmp_path / "web.log"
        with web_log.open("wb") as out:
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "grmweb/gunicorn.conf.py", "grmweb.wsgi", "--bind", bind],
                cwd=ROOT,
                env={**restored_env, "GRM_WEB_WORKERS": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            health = wait_for(lambda: healthz(port) or web.poll() is not None, timeout=120, what="/healthz")
            assert web.poll() is None, web_log.read_text()
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=60)
        assert (health["http"], health["status"]) == (200, "ok"), health
        assert (health["database"]["ok"], health["database"]["vendor"]) == (True, "postgresql"), health

        # A worker started on it resumes the run, on a broker of its own.
        broker = restored_broker(tmp_path)
        empty_broker(broker)
        try:
            celery_workers.start(DATABASE_URL=restored_url, GRM_RUN_STALL_SECONDS="0", **broker)
            with connect(restored_db) as restored:
                wait_for(
                    lambda: (
                        restored.execute("SELECT status FROM reviews_run WHERE id = %s", (run.id,)).fetchone()
                        not in [(active,) for active in ACTIVE]
                    ),
                    timeout=300,
                    interval=1,
                    what="the run on the restored database to end",
                )
                status, error, queries_done, samples_done = restored.execute(
                    "SELECT status, error_message, queries_done, samples_done FROM reviews_run WHERE id = %s",
                    (run.id,),
                ).fetchone() or (None, "", 0, 0)
                samples = Counter(
                    query_id
                    for (query_id,) in restored.execute(
                        "SELECT query_id FROM reviews_sample WHERE run_id = %s", (run.id,)
                    )
                )
                verdicts = Counter(
                    query_id
                    for (query_id,) in restored.execute(
                        "SELECT query_id FROM reviews_verdict WHERE run_id = %s", (run.id,)
                    )
                )
        finally:
            celery_workers.stop_all()
            empty_broker(broker)

    assert status == Run.Status.DONE, error
    assert set(samples) == set(verdicts) == queries
    assert set(samples.values()) == {K}, samples
    assert set(verdicts.values()) == {1}, verdicts
    assert (queries_done, samples_done) == (len(queries), K * len(queries))
    # The restored worker wrote only to the restored database: the original run is as the kill left it.
    assert Verdict.objects.filter(run=run).count() == verdicts_at_kill
    assert Run.objects.get(id=run.id).is_active
