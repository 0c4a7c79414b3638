"""32 reviewers using the site for a minute while an API upload of 100,000 items and a GRM run are in progress.

The real stack on loopback: gunicorn with the project's config (grmweb/gunicorn.conf.py, debug off,
static files collected), a cpu and a gpu Celery worker as `make run` starts them, PostgreSQL and Redis.
The run is judged by the gpu worker against a fake OpenAI-compatible server (tests/openai_server.py)
that takes GRM_BENCH_LOAD_MODEL_DELAY seconds per request; the upload is ingested by the cpu worker.

Each simulated reviewer logs in through /login/, then visits the pages a reviewer uses, as fast as the
server answers: mostly the review queue (annotating its item, the answer brings the next), and between
items the home page, the dataset, a query, search, the runs, the live run's page and the fragments its
pages poll. Every request's time is recorded under its page's name; any answer but 200, and any
exception (a 60 s timeout included), is an error. The baseline is /healthz through the same server
before the load. GRM_BENCH_LOAD_SKIP=search,... leaves pages out of the mix.

Bounded: every wait has a timeout, a watchdog stops the children at GRM_BENCH_LOAD_SECONDS + 600 s, and
every child (each in its own process group) is stopped in a `finally`: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection

from reviews.management.commands.grm_serve import GUNICORN_CONFIG, WORKERS, _die_with_parent
from reviews.models import Dataset, FailureMode, Query, QueueItem, ReviewQueue, Run, Upload
from reviews.roles import ADMIN, REVIEWER
from reviews.services.accounts import api_token_create, user_create
from reviews.services.configs import defaults_ensure, model_config_for
from reviews.services.queues import QueueFilters, queue_create
from reviews.services.runs import run_cancel, run_create
from tests.bench import review
from tests.bench.uploads import _free_port, _wait_http, synthetic_file
from tests.openai_server import Script, openai_server
from tests.processes import celery_worker, process_env

SECONDS = float(os.environ.get("GRM_BENCH_LOAD_SECONDS", "60"))
QUERIES = int(os.environ.get("GRM_BENCH_LOAD_QUERIES", "2000"))
UPLOAD_ITEMS = int(os.environ.get("GRM_BENCH_LOAD_UPLOAD_ITEMS", "100000"))
MODEL_DELAY = float(os.environ.get("GRM_BENCH_LOAD_MODEL_DELAY", "0.5"))
UPLOAD_WAIT = 120  # after the window, seconds to wait for the upload to end (so no worker is killed mid-task)
REVIEWERS = 32
DEADLINE = SECONDS + 600  # the watchdog: setup, logins, the window and the stop, whatever happens
STOP_GRACE = 20
BASELINE_REQUESTS = 100
WARM_REVIEWERS = 8  # each opens every page once before the window, so no template compiles inside it
UPLOAD_DATASET = "bench-load-upload"
# How often a reviewer opens each page: mostly the queue, looking around between items.
PAGES = {
    "annotate": 30,
    "queue": 4,
    "home": 6,
    "dataset": 6,
    "query": 10,
    "search": 6,
    "runs": 4,
    "run": 5,
    "run_progress": 10,
    "run_row": 5,
    "upload_status": 5,
    "mine": 4,
}
SKIPPED = {name for name in os.environ.get("GRM_BENCH_LOAD_SKIP", "").split(",") if name}  # pages left out
SEARCH_WORDS = ["proof", "units", "policy", "summary", "function", "limit", "detail", "risk"]
_HTMX = {"HX-Request": "true"}


@dataclass
class Site:
    """What the reviewers' pages point at."""

    port: int
    dataset: str
    dataset_pages: int
    query_ids: list[int]
    review_run: int
    live_run: int
    queue: int
    failure_modes: list[str]
    uploader: Uploader


class Reviewer(review.Reviewer):
    """A reviewer moving between the site's pages; latencies by page name."""

    def __init__(self, site: Site, username: str, password: str, window: review.Window, warm: bool) -> None:
        super().__init__(site.port, username, password, site.queue, window)
        self.site = site
        self.warm = warm
        self.times: dict[str, list[float]] = {}
        self.item: int | None = None

    def _page(self, name: str, method: str, path: str, **kwargs: Any) -> str | None:
        start = time.perf_counter()
        try:
            status, text = self._request(method, path, **kwargs)
        except Exception as exc:  # an error; the next request opens a new connection
            self.errors.append(f"{name}: {method} {path}: {exc!r}")
            if self.connection is not None:
                self.connection.close()
                self.connection = None
            return None
        self.times.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        if status != 200:  # every page answers 200 when it works (none of them redirects)
            self.errors.append(f"{name}: {method} {path}: {status} {text[:200]!r}")
            return None
        return text

    def _take_item(self, answer: str | None) -> None:
        found = review._ITEM.search(answer or "")
        self.item = int(found.group(1)) if found else None

    def visit(self, name: str) -> None:
        site, rng = self.site, self.rng
        if name == "annotate" and self.item is None:
            name = "queue"
        if name == "upload_status" and site.uploader.upload_id is None:
            name = "run_progress"
        if name == "queue":
            self._take_item(self._page(name, "GET", f"/queues/{site.queue}/"))
        elif name == "annotate":
            decision = rng.choice(["accept", "reject"])
            form: dict[str, Any] = {
                "decision": decision,
                "failure_modes": rng.sample(site.failure_modes, rng.choice([0, 1, 2])) if decision == "reject" else [],
                "note": rng.choice(["", "", "The critique misses the unit conversion."]),
                "time_spent_ms": str(rng.randint(3000, 60000)),
            }
            answer = self._page(
                name,
                "POST",
                f"/queues/{site.queue}/items/{self.item}/annotate/",
                body=urlencode(form, doseq=True),
                headers={**_HTMX, "X-CSRFToken": self.cookies.get("csrftoken", "")},
            )
            self._take_item(answer)
        elif name == "home":
            self._page(name, "GET", "/")
        elif name == "dataset":
            self._page(name, "GET", f"/datasets/{site.dataset}/?page={rng.randint(1, site.dataset_pages)}")
        elif name == "query":
            query = rng.choice(site.query_ids)
            self._page(name, "GET", f"/datasets/{site.dataset}/queries/{query}/?run={site.review_run}")
        elif name == "search":
            self._page(name, "GET", f"/search/?{urlencode({'text': rng.choice(SEARCH_WORDS)})}")
        elif name == "runs":
            self._page(name, "GET", "/runs/")
        elif name == "run":
            self._page(name, "GET", f"/runs/{site.live_run}/")
        elif name == "run_progress":
            self._page(name, "GET", f"/runs/{site.live_run}/progress/", headers=_HTMX)
        elif name == "run_row":
            self._page(name, "GET", f"/runs/{site.live_run}/row/", headers=_HTMX)
        elif name == "upload_status":
            self._page(name, "GET", f"/uploads/{site.uploader.upload_id}/status/", headers=_HTMX)
        elif name == "mine":
            self._page(name, "GET", "/annotations/mine/")
        else:
            raise ValueError(f"no page {name!r}")

    def run(self) -> None:
        try:
            self.login()
        except Exception as exc:  # reported as an error; the others go on
            self.errors.append(f"login: {exc!r}")
        logged_in = not self.errors
        if logged_in:
            for name in _pages() if self.warm else ["queue"]:
                self.visit(name)
        self.times.clear()  # the warm-up is not measured
        self.errors = [f"before the window: {error}" for error in self.errors]
        try:
            self.window.started.wait(timeout=DEADLINE)
        except threading.BrokenBarrierError:
            self.errors.append("the window never opened")
            return
        if not logged_in:
            return
        names = _pages()
        weights = [PAGES[name] for name in names]
        while time.perf_counter() < self.window.deadline:
            self.visit(self.rng.choices(names, weights)[0])
        if self.connection is not None:
            self.connection.close()


def _pages() -> list[str]:
    return [name for name in PAGES if name not in SKIPPED]


class Uploader(threading.Thread):
    """The API upload: the file POSTed with a Bearer token; its id once the server has accepted it."""

    def __init__(self, port: int, path: Path, token: str) -> None:
        super().__init__(daemon=True)
        self.port, self.path, self.token = port, path, token
        self.upload_id: int | None = None
        self.received_s: float | None = None
        self.error = ""

    def run(self) -> None:
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300, blocksize=1 << 20)
            with self.path.open("rb") as body:
                conn.request(
                    "POST",
                    f"/api/v1/uploads/?dataset={UPLOAD_DATASET}&format=native",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {self.token}",
                        "Content-Type": "application/x-ndjson",
                        "Content-Length": str(self.path.stat().st_size),
                    },
                )
                answer = conn.getresponse()
                text = answer.read().decode()
            conn.close()
        except Exception as exc:
            self.error = f"upload: {exc!r}"
            return
        if answer.status != 202:
            self.error = f"upload: {answer.status} {text[:300]!r}"
            return
        self.received_s = time.perf_counter() - start
        self.upload_id = int(json.loads(text)["id"])


class Children:
    """The child processes, each in a process group of its own, stopped together (from any thread, once)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}
        self.lock = threading.Lock()
        self.stopped = False

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        with self.lock, (self.logs / f"{name}.log").open("ab") as log:
            if self.stopped:
                raise RuntimeError("the benchmark's deadline has passed")
            self.started[name] = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # children start before this process has other threads
            )

    def alive(self) -> list[str]:
        return [name for name, child in self.started.items() if child.poll() is None]

    def stop(self) -> None:
        with self.lock:
            if self.stopped:  # by the watchdog: their process group ids may belong to others by now
                return
            self.stopped = True
            for child in self.started.values():
                _signal_group(child, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            for name, child in self.started.items():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    print(f"load: {name} did not stop in {STOP_GRACE} s; killing it", file=sys.stderr)
                _signal_group(child, signal.SIGKILL)  # what is left of its group (gunicorn's workers)
                child.wait()

    def tail(self, name: str, lines: int = 20) -> str:
        text = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def _worker(name: str, node: str) -> list[str]:
    """`make run`'s worker of that name (grm_serve.WORKERS), under a node name of this benchmark's."""
    options = list(WORKERS[name])
    options[options.index("-n") + 1] = node
    return celery_worker(*options, "--loglevel=WARNING")


def _p50_p95(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    return review._median_p95(values)


def _healthz(port: int, count: int) -> list[float]:
    """Milliseconds per GET /healthz, one after another on one connection (the first tenth not counted)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for n in range(count + count // 10):
            start = time.perf_counter()
            conn.request("GET", "/healthz")
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"/healthz answered {answer.status}")
            if n >= count // 10:
                times.append((time.perf_counter() - start) * 1000)
    finally:
        conn.close()
    return times


def _broker_reachable() -> bool:
    try:
        cache.set("bench-load-probe", 1, timeout=5)
    except Exception:
        return False
    return True


def _purge() -> None:
    """Empty the cpu and gpu queues: this benchmark's run batches after it is cancelled, or an earlier
    run's (by name: `app.control.purge()` knows only the queues this process has sent to, not gpu)."""
    from grmweb.celery import app

    routed = [route["queue"] for route in settings.CELERY_TASK_ROUTES.values()]
    with contextlib.suppress(Exception), app.connection_for_write() as broker:
        for name in {settings.CELERY_TASK_DEFAULT_QUEUE, *routed}:
            broker.default_channel.queue_purge(name)  # type: ignore[attr-defined]  # not in kombu-stubs


def bench_load() -> Iterator[tuple[str, float | int | str]]:
    if connection.vendor != "postgresql" or not settings.REDIS_URL or not _broker_reachable():
        yield "load_skipped", "needs PostgreSQL and Redis (set DATABASE_URL and REDIS_URL)"
        return
    if SKIPPED - set(PAGES):
        raise ValueError(
            f"GRM_BENCH_LOAD_SKIP: no page {', '.join(sorted(SKIPPED - set(PAGES)))}; pages: {', '.join(PAGES)}"
        )
    began = time.perf_counter()
    dataset, review_run = review.fill(QUERIES)
    review.prerender()
    password = secrets.token_urlsafe()
    admin = user_create(username="bench-load-admin", password=password, roles=[ADMIN])
    queue = queue_create(
        name="bench load",
        dataset=dataset,
        run=review_run,
        filters=QueueFilters(),
        priority=ReviewQueue.Priority.META_UNCERTAIN,
        created_by=admin,
    )
    review._analyze()
    accounts = _reviewers(password)
    _, token = api_token_create(user=admin, name="bench-load")
    yield "load_queries", QUERIES
    yield "load_queue_items", queue.item_count
    yield "load_fill_s", round(time.perf_counter() - began, 1)

    figures: list[tuple[str, float | int | str]] = []
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as scratch:
        folder = Path(scratch)
        (folder / "logs").mkdir()
        body = folder / "items.jsonl"
        synthetic_file(body, UPLOAD_ITEMS)
        env = process_env(
            GRM_DEBUG="0",
            GRM_SECRET_KEY="bench-" + "x" * 60,
            GRM_ALLOWED_HOSTS="127.0.0.1",
            GRM_HTTPS="0",
            GRM_LOG_LEVEL="WARNING",
            GRM_STATIC_ROOT=str(folder / "static"),
            GRM_UPLOAD_DIR=str(folder / "uploads"),
        )
        review._collectstatic(env)
        port = _free_port()
        children = Children(folder / "logs")
        watchdog = threading.Timer(DEADLINE, children.stop)
        watchdog.daemon = True
        live_run: Run | None = None
        try:
            gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(settings.BASE_DIR / GUNICORN_CONFIG)]
            children.start("web", [*gunicorn, "grmweb.wsgi", "--bind", f"127.0.0.1:{port}"], env)
            children.start("worker-cpu", _worker("worker-cpu", f"load-cpu-{port}@%h"), env)
            children.start("worker-gpu", _worker("worker-gpu", f"load-gpu-{port}@%h"), env)
            watchdog.start()
            _purge()  # nothing a killed earlier run left behind reaches these workers
            _wait_http(port, 120)
            baseline = _healthz(port, BASELINE_REQUESTS)
            with openai_server(Script(delay=MODEL_DELAY)) as url:
                template, _ = defaults_ensure()
                judge = model_config_for(backend="openai", model="bench-load-judge", base_url=url)
                live_run = run_create(
                    dataset=dataset, model_config=judge, template=template, k=review.K, batch_size=8, created_by=admin
                )
                uploader = Uploader(port, body, token)
                site = Site(
                    port=port,
                    dataset=dataset.name,
                    dataset_pages=max(1, QUERIES // 50),
                    query_ids=random.Random(0).sample(
                        list(dataset.queries.values_list("id", flat=True)), min(QUERIES, 2000)
                    ),
                    review_run=review_run.pk,
                    live_run=live_run.pk,
                    queue=queue.pk,
                    failure_modes=list(FailureMode.objects.filter(active=True).values_list("code", flat=True)),
                    uploader=uploader,
                )
                window = review.Window(REVIEWERS + 1, SECONDS)
                reviewers = [
                    Reviewer(site, username, password, window, warm=n < WARM_REVIEWERS)
                    for n, username in enumerate(accounts)
                ]
                for reviewer in reviewers:
                    reviewer.start()
                _wait_run_started(live_run, children, timeout=180)
                window.started.wait(timeout=300)
                samples_at_start = Run.objects.get(pk=live_run.pk).samples_done
                uploader.start()
                in_window = _watch(window, uploader, children)
                samples_in_window = Run.objects.get(pk=live_run.pk).samples_done - samples_at_start
                for reviewer in reviewers:
                    reviewer.join(max(1.0, window.deadline + 90 - time.perf_counter()))
                seconds = time.perf_counter() - window.start
                upload_s = in_window if in_window is not None else _wait_upload(window, uploader, children, UPLOAD_WAIT)
                if children.stopped:
                    raise RuntimeError(f"load: past the deadline ({DEADLINE:.0f} s), the watchdog stopped the server")
                live_run.refresh_from_db()
                figures += _figures(reviewers, seconds, baseline, uploader, live_run, queue)
                figures += [
                    ("load_upload_finished_in_window", "yes" if in_window is not None else "no"),
                    (
                        "load_upload_s",
                        round(upload_s, 1) if upload_s is not None else f"not ended {UPLOAD_WAIT} s after",
                    ),
                    ("load_upload_items_stored", Query.objects.filter(dataset__name=UPLOAD_DATASET).count()),
                    ("load_run_samples_done", samples_in_window),
                    ("load_run_samples_total", live_run.samples_total),
                    ("load_run_status", live_run.status),
                ]
        finally:
            watchdog.cancel()
            if live_run is not None:
                with contextlib.suppress(Exception):
                    run_cancel(run=live_run)  # its batches left end at once, so the gpu worker stops in time
            dead = [] if children.stopped else [name for name in children.started if name not in children.alive()]
            children.stop()
            _purge()
            for name in dead:  # a child that died early: say why
                print(f"load: {name} exited early; its log ends:\n{children.tail(name)}", file=sys.stderr)
    review._truncate()
    Dataset.objects.filter(name=UPLOAD_DATASET).delete()
    yield from figures
    yield "load_total_s", round(time.perf_counter() - began, 1)


def _reviewers(password: str) -> list[str]:
    """REVIEWERS accounts holding the reviewer role and one password, hashed once (PBKDF2 takes half a
    second here): the first through the service, the others copy its hash."""
    names = [f"bench-load-reviewer-{n:02d}" for n in range(REVIEWERS)]
    first = user_create(username=names[0], password=password, roles=[REVIEWER])
    user_model = get_user_model()
    others = user_model.objects.bulk_create([user_model(username=name, password=first.password) for name in names[1:]])
    Group.objects.get(name=REVIEWER).user_set.add(*others)
    return names


def _wait_run_started(run: Run, children: Children, timeout: float) -> None:
    """Until the run has stored its first samples: the window opens on a run in progress."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.samples_done > 0 or not run.is_active:
            return
        if len(children.alive()) < len(children.started):
            raise RuntimeError("a child process exited before the run started")
        time.sleep(0.5)
    raise RuntimeError(f"run {run.pk} stored no sample within {timeout:.0f} s")


def _upload_ended(uploader: Uploader) -> bool:
    if uploader.upload_id is None:
        return False
    status = Upload.objects.filter(pk=uploader.upload_id).values_list("status", flat=True).first()
    return status in Upload.ENDED


def _watch(window: review.Window, uploader: Uploader, children: Children) -> float | None:
    """Wait out the window; the seconds from its start until the upload ended, if it did within it."""
    ended: float | None = None
    while (now := time.perf_counter()) < window.deadline and not children.stopped:
        if ended is None and _upload_ended(uploader):
            ended = now - window.start
        time.sleep(min(0.5, max(0.0, window.deadline - now)))
    return ended


def _wait_upload(window: review.Window, uploader: Uploader, children: Children, timeout: float) -> float | None:
    """After the window: until the upload has ended (at most `timeout` s); seconds from the window's start."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and not children.stopped:
        if _upload_ended(uploader):
            return time.perf_counter() - window.start
        if not uploader.is_alive() and uploader.upload_id is None:
            return None  # refused or failed: nothing to wait for
        time.sleep(0.5)
    return None


def _figures(
    reviewers: list[Reviewer],
    seconds: float,
    baseline: list[float],
    uploader: Uploader,
    run: Run,
    queue: ReviewQueue,
) -> list[tuple[str, float | int | str]]:
    times: dict[str, list[float]] = {}
    for reviewer in reviewers:
        for name, values in reviewer.times.items():
            times.setdefault(name, []).extend(values)
    errors = [error for reviewer in reviewers for error in reviewer.errors]
    if uploader.error:
        errors.append(uploader.error)
    upload = Upload.objects.filter(pk=uploader.upload_id).first() if uploader.upload_id else None
    if upload is not None and upload.status in Upload.ENDED and upload.status != Upload.Status.DONE:
        errors.append(f"upload {upload.pk} ended {upload.status}: {upload.message}")
    if run.status == Run.Status.FAILED or run.failed_query_ids:
        failed = len(run.failed_query_ids)
        errors.append(f"run {run.pk}: {run.status}, {failed} queries failed: {run.error_message}")
    for error in errors[:10]:
        print(f"load error: {error}", file=sys.stderr)
    requests = sum(len(values) for values in times.values())
    base_p50, base_p95 = _p50_p95(baseline)
    figures: list[tuple[str, float | int | str]] = [
        ("load_reviewers", len(reviewers)),
        ("load_seconds", round(seconds, 1)),
        ("load_requests", requests),
        ("load_requests_per_s", round(requests / seconds, 1)),
        ("load_errors", len(errors)),
        ("load_baseline_healthz_p50_ms", round(base_p50, 1)),
        ("load_baseline_healthz_p95_ms", round(base_p95, 1)),
    ]
    for name in PAGES:
        if name not in times:
            continue
        p50, p95 = _p50_p95(times[name])
        figures += [
            (f"load_{name}_requests", len(times[name])),
            (f"load_{name}_p50_ms", round(p50, 1)),
            (f"load_{name}_p95_ms", round(p95, 1)),
            (f"load_{name}_p95_ratio", round(p95 / base_p95, 1)),
        ]
    figures += [
        ("load_items_annotated", QueueItem.objects.filter(queue=queue, is_open=False).count()),
        ("load_items_annotated_twice", QueueItem.objects.filter(queue=queue, done_count__gt=1).count()),
        ("load_upload_items", UPLOAD_ITEMS),
        ("load_upload_receive_s", round(uploader.received_s, 1) if uploader.received_s is not None else "not received"),
        ("load_upload_status", upload.status if upload is not None else "none"),
    ]
    return figures
