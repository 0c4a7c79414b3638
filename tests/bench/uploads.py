"""A million items through the upload API into PostgreSQL, against a raw COPY of the same rows.

The real stack: gunicorn (as docker-compose runs it) receives the body, a Celery worker on the cpu
queue ingests it. Timed from the first byte sent to the upload's final status. Peak memory is each
process's VmHWM (the kernel's high-water mark of resident memory).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reviews.ingest import copy_writer
from reviews.ingest.formats import Limits, normalize
from reviews.models import Dataset, Query, Response, Upload
from reviews.roles import ADMIN
from reviews.services.accounts import api_token_create, user_create
from tests.processes import celery_worker, process_env

ITEMS = int(os.environ.get("GRM_BENCH_UPLOAD_ITEMS", "1000000"))
RESPONSE_CHARS = 500
_WORDS = ["the", "model", "answer", "should", "explain", "each", "step", "clearly", "check", "units", "result"]


def synthetic_file(path: Path, count: int, seed: int = 0) -> None:
    """`count` native items with two responses of about RESPONSE_CHARS characters each, as JSON Lines."""
    rng = random.Random(seed)

    def text(n_chars: int) -> str:
        words: list[str] = []
        length = 0
        while length < n_chars:
            words.append(rng.choice(_WORDS))
            length += len(words[-1]) + 1
        return " ".join(words)

    pool = [text(RESPONSE_CHARS) for _ in range(997)]  # a prime: pairs do not repeat with the period
    prompts = [text(120) for _ in range(101)]
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            record = {
                "id": f"item-{i}",
                "prompt": prompts[i % 101],
                "responses": [pool[i % 997], pool[(i * 7 + 3) % 997]],
                "best": i % 2,
            }
            out.write(json.dumps(record) + "\n")


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def copy_files(source: Path, queries: Path, responses: Path, dataset_id: int) -> None:
    """The rows the importer would store, as COPY text files (prepared untimed)."""
    limits = Limits()
    now = timezone.now().isoformat()
    with source.open("rb") as lines, queries.open("w") as q_out, responses.open("w") as r_out:
        for query_id, raw in enumerate(lines, start=1):
            row = copy_writer.Row.of(query_id, normalize(json.loads(raw), "native", limits=limits))
            values = (
                query_id,
                dataset_id,
                row.external_id,
                row.subset,
                row.context,
                row.prompt,
                row.best_index,
                row.rating,
                row.content_hash,
                row.metadata,
                now,
            )
            q_out.write("\t".join(map(_copy_text, values)) + "\n")
            for position, (text, metadata) in enumerate(row.responses):
                r_out.write("\t".join(map(_copy_text, (query_id, position, text, metadata))) + "\n")


def raw_copy(queries: Path, responses: Path) -> float:
    """Seconds to COPY the prepared files into the tables, in one transaction."""
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for path, statement in (
            (queries, f"COPY reviews_query ({copy_writer._QUERY_COLUMNS}) FROM STDIN"),
            (responses, "COPY reviews_response (query_id, position, text, metadata) FROM STDIN"),
        ):
            with path.open("rb") as source, cursor.copy(statement) as copy:
                while block := source.read(1 << 20):
                    copy.write(block)
    return time.perf_counter() - start


def _truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reviews_response, reviews_query RESTART IDENTITY CASCADE")
    Dataset.objects.all().delete()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    """The largest VmHWM among the process and its descendants, in MB."""
    peaks = []
    for candidate in [pid, *_descendants(pid)]:
        try:
            status = Path(f"/proc/{candidate}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


def _descendants(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, found):
            children += [child, *_descendants(child)]
    return children


def start_gunicorn(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The web app under gunicorn on loopback, with the worker class docker-compose uses."""
    command = [sys.executable, "-m", "gunicorn", "grmweb.wsgi", f"--bind=127.0.0.1:{port}"]
    options = ["--workers=2", "--worker-class=gthread", "--threads=4", "--timeout=120"]
    return subprocess.Popen([*command, *options], env=env, cwd=settings.BASE_DIR)


def _wait_http(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the web server did not answer on port {port} within {timeout:.0f} s")


def upload_through_api(
    path: Path, token: str, env: dict[str, str]
) -> tuple[float, float, dict[str, Any], float, float]:
    """(seconds to 202, seconds to the final status, the upload, peak RSS MB web, peak RSS MB worker)."""
    port = _free_port()
    web = start_gunicorn(port, env)
    worker = subprocess.Popen(
        celery_worker("-Q", "cpu", "--pool=threads", "--concurrency=2", "-n", f"bench-{port}@%h", "--loglevel=WARNING"),
        env=env,
        cwd=settings.BASE_DIR,
    )
    try:
        _wait_http(port, 60)
        time.sleep(3)  # the worker connects to the broker meanwhile; its start is not timed
        size = path.stat().st_size
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600, blocksize=1 << 20)
        start = time.perf_counter()
        with path.open("rb") as body:
            conn.request(
                "POST",
                "/api/v1/uploads/?dataset=bench-upload&format=native",
                body=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/x-ndjson",
                    "Content-Length": str(size),
                },
            )
            answer = conn.getresponse()
            accepted = json.loads(answer.read())
        received = time.perf_counter() - start
        if answer.status != 202:
            raise RuntimeError(f"upload answered {answer.status}: {accepted}")
        while True:
            upload = Upload.objects.get(pk=accepted["id"])
            if upload.status in Upload.ENDED:
                break
            time.sleep(0.1)
        finished = time.perf_counter() - start
        details = {"status": upload.status, "created": upload.created, "message": upload.message}
        return received, finished, details, _peak_rss_mb(web.pid), _peak_rss_mb(worker.pid)
    finally:
        for process in (web, worker):
            process.terminate()
        for process in (web, worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def bench_uploads() -> Iterator[tuple[str, float | int | str]]:
    if connection.vendor != "postgresql":
        yield "ingest_items_per_s", "skipped (needs PostgreSQL: set DATABASE_URL)"
        return
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as scratch:
        folder = Path(scratch)
        source = folder / "items.jsonl"
        synthetic_file(source, ITEMS)
        yield "ingest_items", ITEMS
        yield "ingest_file_mb", round(source.stat().st_size / 1e6)

        baseline = Dataset.objects.create(name="bench-copy")
        queries, responses = folder / "queries.copy", folder / "responses.copy"
        copy_files(source, queries, responses, baseline.id)
        copy_seconds = raw_copy(queries, responses)
        assert Query.objects.count() == ITEMS
        queries.unlink()
        responses.unlink()
        _truncate()

        admin = user_create(username="bench-admin", password=secrets.token_urlsafe(), roles=[ADMIN])
        _, token = api_token_create(user=admin, name="bench")
        env = process_env(
            GRM_DEBUG="0",
            GRM_SECRET_KEY="bench-" + "x" * 60,
            GRM_ALLOWED_HOSTS="127.0.0.1",
            GRM_HTTPS="0",
            GRM_UPLOAD_DIR=str(folder / "uploads"),
            GRM_LOG_LEVEL="WARNING",
        )
        received, finished, upload, web_mb, worker_mb = upload_through_api(source, token, env)
        if upload["status"] != "done" or upload["created"] != ITEMS:
            raise RuntimeError(f"the upload did not store every item: {upload}")
        assert Response.objects.count() == 2 * ITEMS
        yield "ingest_receive_s", round(received, 1)
        yield "ingest_total_s", round(finished, 1)
        yield "ingest_items_per_s", round(ITEMS / finished)
        yield "ingest_peak_rss_mb_web", round(web_mb)
        yield "ingest_peak_rss_mb_worker", round(worker_mb)
        yield "copy_items_per_s", round(ITEMS / copy_seconds)
        yield "ingest_vs_copy", round(copy_seconds / finished, 2)
        _truncate()
