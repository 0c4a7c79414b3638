"""The query page and the review queue's next-item request, on 100,000 queries x 2 responses x 8 samples.

Fill: one run (k = 8) with its samples and verdicts, written with COPY, and a review queue over its
800,000 judgments built by `queue_create`. Server time: Django's test client in-process, each request
timed around `client.get`/`client.post` (handler, middleware, view, SQL, templates), against
`/healthz` timed the same way in the same run; the query pages again once every query has an earlier
review. Load: gunicorn (gthread, 2 workers x 4 threads) and 32 simulated reviewers (one account each,
logged in through /login/) annotating as fast as the server answers."""

from __future__ import annotations

import hashlib
import http.client
import json
import multiprocessing
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection, transaction
from django.test import Client, override_settings
from django.utils import timezone

from reviews import rendering
from reviews.models import Dataset, FailureMode, Query, QueueItem, ReviewQueue, Run, Sample
from reviews.roles import ADMIN, REVIEWER
from reviews.services.accounts import user_create
from reviews.services.configs import defaults_ensure
from reviews.services.datasets import dataset_prerender
from reviews.services.queues import QueueFilters, queue_create
from tests.bench.uploads import _free_port, _wait_http, start_gunicorn
from tests.processes import process_env
from workers.grm import voting
from workers.grm.rft import final_decision, is_correct, rule_reasons

QUERIES = int(os.environ.get("GRM_BENCH_REVIEW_QUERIES", "100000"))
LOAD_SECONDS = float(os.environ.get("GRM_BENCH_REVIEW_SECONDS", "60"))
REQUESTS = int(os.environ.get("GRM_BENCH_REVIEW_REQUESTS", "300"))
K = 8
K_META = 4
RESPONSES = 2
LOAD_REVIEWERS = 32
WARMUP = 10
DATASET = "bench-review"
SUBSETS = ["chat", "reasoning", "safety", "code"]
_ITEM = re.compile(r'id="review-item"[^>]*data-item="(\d+)"')
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# --- Texts: pools of Markdown written once, each stored text made distinct by its row's id, so the
# Markdown cache (4,096 texts per process) cannot serve a page it has not rendered before.
_WORDS = [
    "the", "answer", "model", "step", "result", "value", "check", "claim", "source", "units", "error",
    "case", "proof", "reason", "user", "code", "test", "function", "list", "order", "sum", "rate",
    "limit", "input", "output", "example", "detail", "summary", "table", "date", "policy", "risk",
]  # fmt: skip
_CRITERIA = [
    "Factual accuracy",
    "Completeness",
    "Clarity",
    "Safety",
    "Relevance to the question",
    "Reasoning quality",
    "Code correctness",
    "Conciseness",
]


def _sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(_WORDS) for _ in range(words)]
    if rng.random() < 0.25:
        chosen[rng.randrange(words)] = f"`{rng.choice(_WORDS)}()`"
    return " ".join(chosen).capitalize() + "."


def _paragraph(rng: random.Random, chars: int) -> str:
    sentences: list[str] = []
    while sum(len(s) + 1 for s in sentences) < chars:
        sentences.append(_sentence(rng, rng.randint(6, 14)))
    return " ".join(sentences)


def _prompt(rng: random.Random) -> str:
    return _paragraph(rng, 110).rstrip(".") + "?"


def _response(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return _paragraph(rng, 300) + "\n\n" + "\n".join(f"- {_sentence(rng, 6)}" for _ in range(3))
    return _paragraph(rng, 230) + "\n\n" + _paragraph(rng, 230)


def _principles(rng: random.Random) -> str:
    names = rng.sample(_CRITERIA, 3)
    weights = [40, 35, 25]
    return "\n".join(
        f"{n}. **{name}** (weight {weight}%): {_sentence(rng, 10)}"
        for n, (name, weight) in enumerate(zip(names, weights, strict=True), start=1)
    )


def _critique(rng: random.Random) -> str:
    parts = []
    for position in (1, 2):
        parts.append(f"**Response {position}** {_paragraph(rng, 180)}")
        parts.append("\n".join(f"- *{rng.choice(_CRITERIA)}*: {_sentence(rng, 7)}" for _ in range(2)))
    parts.append(f"Overall, Response {rng.randint(1, 2)} is *more* {rng.choice(['accurate', 'complete', 'clear'])}.")
    return "\n\n".join(parts)


def _copy_text(value: Any) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


class Texts:
    """Pools of each kind of text (prime sizes, so row i's combination does not repeat with a short period)."""

    def __init__(self, seed: int = 0) -> None:
        rng = random.Random(seed)
        self.prompts = [_prompt(rng) for _ in range(211)]
        self.responses = [_response(rng) for _ in range(997)]
        self.principles = [_principles(rng) for _ in range(503)]
        self.critiques = [_critique(rng) for _ in range(1009)]


class Judgments:
    """One query's label and its K samples (shown order, scores, meta score), reproducible from its index."""

    def __init__(self, index: int) -> None:
        rng = random.Random(index)
        self.best = index % RESPONSES
        self.permutations: list[list[int]] = []
        self.scores: list[list[int]] = []
        self.meta: list[float] = []
        skill = rng.random()  # how often this query's samples favour the labelled best
        for _ in range(K):
            permutation = [0, 1] if rng.random() < 0.5 else [1, 0]
            good, other = rng.randint(5, 10), rng.randint(2, 8)
            if rng.random() > 0.35 + 0.6 * skill:
                good, other = other, good
            scores = [good, other] if self.best == 0 else [other, good]
            self.permutations.append(permutation)
            self.scores.append(scores)
            self.meta.append(round(rng.gauss(0.0, 2.0), 3))


def _copy(statement: str, lines: Iterable[str]) -> None:
    """COPY the lines in blocks of about a megabyte."""
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        block: list[str] = []
        size = 0
        for line in lines:
            block.append(line)
            size += len(line)
            if size > 1 << 20:
                copy.write("".join(block))
                block, size = [], 0
        if block:
            copy.write("".join(block))


def _row(*values: Any) -> str:
    return "\t".join(map(_copy_text, values)) + "\n"


def fill(count: int) -> tuple[Dataset, Run]:
    """`count` queries with RESPONSES responses, one run with K samples and a verdict per query."""
    texts = Texts()
    template, model = defaults_ensure()
    dataset = Dataset.objects.create(name=DATASET, description="review benchmark")
    now = timezone.now()
    run = Run.objects.create(
        dataset=dataset,
        model_config=model,
        template=template,
        k=K,
        k_meta=K_META,
        status=Run.Status.DONE,
        queries_total=count,
        queries_done=count,
        samples_done=count * K,
        started_at=now,
        finished_at=now,
    )
    stamp = now.isoformat()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM reviews_query")
        first = int(cursor.fetchone()[0]) + 1
    ids = range(first, first + count)

    def queries() -> Iterator[str]:
        for n, query_id in enumerate(ids):
            external_id = f"q-{n}"
            prompt = f"{texts.prompts[n % 211]} (case {n})"
            context = json.dumps([{"role": "user", "content": prompt}])
            digest = hashlib.sha256(external_id.encode()).hexdigest()
            yield _row(
                query_id,
                dataset.id,
                external_id,
                SUBSETS[n % 4],
                context,
                prompt,
                n % RESPONSES,
                None,
                digest,
                "{}",
                stamp,
            )

    def responses() -> Iterator[str]:
        for n, query_id in enumerate(ids):
            for position in range(RESPONSES):
                text = f"{texts.responses[(n * 2 + position * 7) % 997]}\n\nReference {n}-{position}."
                yield _row(query_id, position, text, "{}")

    def samples() -> Iterator[str]:
        for n, query_id in enumerate(ids):
            judged = Judgments(n)
            correct = [is_correct(scores, best_index=judged.best, rating=None) for scores in judged.scores]
            rules = rule_reasons(correct, [True] * K)  # what services.decisions stores for a new run
            for index in range(K):
                row = n * K + index
                principles = f"{texts.principles[row % 503]} (Sample {index + 1} of q-{n}.)"
                critique = f"{texts.critiques[(row * 3) % 1009]} (Sample {index + 1} of q-{n}.)"
                scores = judged.scores[index]
                permutation = judged.permutations[index]
                shown = ", ".join(str(scores[position]) for position in permutation)
                raw = f"Specific Criteria:\n{principles}\n\nAnalysis:\n{critique}\n\nScores: \\boxed{{{shown}}}"
                final = final_decision(rules[index])
                yield _row(
                    run.id, query_id, index, json.dumps(permutation), raw, principles, critique, json.dumps(scores),
                    "ok", False, False, False, 700 + row % 300, 320 + row % 200, 1500 + row % 900,
                    judged.meta[index], correct[index], rules[index], final.decision, final.reason, final.source,
                    stamp,
                )  # fmt: skip

    def verdicts() -> Iterator[str]:
        for n, query_id in enumerate(ids):
            judged = Judgments(n)
            vote = voting.vote(judged.scores, RESPONSES, seed=n)
            meta = voting.meta_vote(judged.scores, judged.meta, RESPONSES, k_meta=K_META, seed=n)
            entropy = round(voting.vote_entropy(judged.scores), 4)
            yield _row(
                run.id, query_id, K, json.dumps(vote.totals), vote.best_index, vote.best_index == judged.best,
                vote.tie_broken, json.dumps(meta.totals), meta.best_index, meta.best_index == judged.best, entropy,
                stamp,
            )  # fmt: skip

    with transaction.atomic():
        _copy(
            "COPY reviews_query (id, dataset_id, external_id, subset, context, prompt, best_index, rating, "
            "content_hash, metadata, created_at) FROM STDIN",
            queries(),
        )
        _copy("COPY reviews_response (query_id, position, text, metadata) FROM STDIN", responses())
        _copy(
            "COPY reviews_sample (run_id, query_id, sample_index, permutation, raw_text, principles, critique, "
            "scores, parse_status, sections_missing, forced, hinted, prompt_tokens, completion_tokens, latency_ms, "
            "meta_score, correct, rule_reason, decision, decision_reason, decision_source, created_at) FROM STDIN",
            samples(),
        )
        _copy(
            "COPY reviews_verdict (run_id, query_id, valid_samples, vote_totals, best_index, correct, tie_broken, "
            "meta_vote_totals, meta_best_index, meta_correct, vote_entropy, updated_at) FROM STDIN",
            verdicts(),
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('reviews_query', 'id'), %s)", [first + count - 1])
    return dataset, run


def _prerender_queries(bounds: tuple[int, int]) -> int:
    """What storing these queries' texts renders: their messages and responses (services.datasets
    after an upload) and their judgments' principles and critiques (services.runs as a worker stores
    them)."""
    low, high = bounds
    dataset = Dataset.objects.get(name=DATASET)
    rendered = dataset_prerender(dataset=dataset, since=None, query_ids=(low, high))
    texts = Sample.objects.filter(query_id__gte=low, query_id__lt=high).values_list("principles", "critique")
    return rendered + rendering.prerender(rendering.markdown(text) for pair in texts.iterator(2000) for text in pair)


def prerender(processes: int = 2) -> int:
    """Render every stored text into reviews.rendering's store, as storing them would have, in
    `processes` forked processes (the fill stands in for many uploads and worker batches)."""
    ids = list(Query.objects.filter(dataset__name=DATASET).order_by("id").values_list("id", flat=True)[::2000])
    last = Query.objects.filter(dataset__name=DATASET).order_by("-id").values_list("id", flat=True).first() or 0
    chunks = list(zip(ids, [*ids[1:], last + 1], strict=True))
    connection.close()  # each process opens its own
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return sum(pool.map(_prerender_queries, chunks))


def _analyze() -> None:
    """What autovacuum would have done by the time reviewers arrive: statistics and the visibility map."""
    with connection.cursor() as cursor:
        for table in (
            "reviews_query", "reviews_response", "reviews_sample", "reviews_verdict", "reviews_queueitem",
            "reviews_renderedtext",
        ):  # fmt: skip
            cursor.execute(f"VACUUM ANALYZE {table}")


# --- Server time in-process


def _median_p95(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=100, method="inclusive")[94]


def _timed(request: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    response = request()
    return (time.perf_counter() - start) * 1000, response


def _current_item(html: str) -> int:
    found = _ITEM.search(html)
    if found is None:
        raise RuntimeError("the review page shows no item: " + html[:300])
    return int(found.group(1))


class ServerTimer:
    """Milliseconds per request through Django's test client, each followed by a timed /healthz.

    The first WARMUP requests of each kind are not counted (templates compile, connections open)."""

    def __init__(self, reviewer: Any, rng: random.Random) -> None:
        self.client = Client()
        self.client.force_login(reviewer)
        self.rng = rng
        self.times: dict[str, list[float]] = {"baseline": []}

    def _record(self, name: str, n: int, elapsed: float) -> None:
        if n >= WARMUP:
            self.times.setdefault(name, []).append(elapsed)
            self.times["baseline"].append(_timed(lambda: self.client.get("/healthz"))[0])

    def query_pages(self, name: str, dataset: Dataset, run: Run, query_ids: list[int]) -> None:
        for n, query_id in enumerate(query_ids):
            url = f"/datasets/{dataset.name}/queries/{query_id}/?run={run.id}"
            elapsed, response = _timed(lambda: self.client.get(url))  # noqa: B023 - called at once
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
            self._record(name, n, elapsed)

    def next_items(self, name: str, queue: ReviewQueue, count: int, modes: list[str]) -> None:
        """Annotate the current item with HX-Request, as the review page does; the answer shows the next."""
        item = _current_item(self.client.get(f"/queues/{queue.pk}/").content.decode())
        for n in range(count):
            form = {
                "decision": self.rng.choice(["accept", "reject"]),
                "failure_modes": self.rng.sample(modes, self.rng.choice([0, 0, 1, 2])),
                "note": self.rng.choice(["", "", "The critique misses the unit conversion."]),
                "time_spent_ms": self.rng.randint(3000, 60000),
            }
            url = f"/queues/{queue.pk}/items/{item}/annotate/"
            elapsed, response = _timed(
                lambda: self.client.post(url, form, headers={"HX-Request": "true"})  # noqa: B023 - called at once
            )
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
            item = _current_item(response.content.decode())
            self._record(name, n, elapsed)


def earlier_reviews(run: Run, reviewer: Any) -> int:
    """An earlier review round: one judgment of every query annotated (rejections tagged), as SQL."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reviews_annotation (sample_id, reviewer_id, decision, note, time_spent_ms, created_at, "
            "updated_at) SELECT id, %s, CASE WHEN correct THEN 'accept' ELSE 'reject' END, "
            "CASE WHEN id %% 5 = 0 THEN 'Checked against the label.' ELSE '' END, 4000 + id %% 50000, now(), now() "
            "FROM reviews_sample WHERE run_id = %s AND sample_index = 0",
            [reviewer.pk, run.pk],
        )
        added = cursor.rowcount
        cursor.execute(
            "INSERT INTO reviews_annotation_failure_modes (annotation_id, failuremode_id) "
            "SELECT annotation.id, mode.id FROM reviews_annotation annotation, reviews_failuremode mode "
            "WHERE annotation.reviewer_id = %s AND annotation.decision = 'reject' AND mode.code = 'incorrect_critique'",
            [reviewer.pk],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reviews_annotation")
        cursor.execute("VACUUM ANALYZE reviews_annotation_failure_modes")
    return added


# --- Load through gunicorn


class Window:
    """The measured interval: it opens once every reviewer has logged in (PBKDF2 is not measured)."""

    def __init__(self, parties: int, seconds: float) -> None:
        self.seconds = seconds
        self.start = self.deadline = 0.0
        self.started = threading.Barrier(parties, action=self._open)

    def _open(self) -> None:
        self.start = time.perf_counter()
        self.deadline = self.start + self.seconds


class Reviewer(threading.Thread):
    """A simulated reviewer: logs in, opens the queue, then annotates each item the answer brings."""

    def __init__(self, port: int, username: str, password: str, queue_id: int, window: Window) -> None:
        super().__init__(daemon=True)
        self.port, self.username, self.password, self.queue_id = port, username, password, queue_id
        self.window = window
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.rng = random.Random(username)

    def _request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            reused = self.connection is not None
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.connection.request(method, path, body=body, headers=sent)
                answer = self.connection.getresponse()
                text = answer.read().decode()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None
                if reused and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: a browser retries too
                raise
            for header in answer.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return answer.status, text
        raise AssertionError("unreachable")

    def login(self) -> None:
        status, page = self._request("GET", "/login/")
        token = _CSRF_FIELD.search(page)
        if status != 200 or token is None:
            raise RuntimeError(f"{self.username}: the login form answered {status}")
        form = {"username": self.username, "password": self.password, "csrfmiddlewaretoken": token.group(1)}
        status, _ = self._request("POST", "/login/", urlencode(form))
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"{self.username}: login answered {status}")

    def _timed(self, method: str, path: str, **kwargs: Any) -> str | None:
        start = time.perf_counter()
        try:
            status, text = self._request(method, path, **kwargs)
        except Exception as exc:  # counted as an error; the next request opens a new connection
            self.errors.append(f"{method} {path}: {exc!r}")
            if self.connection is not None:
                self.connection.close()
                self.connection = None
            return None
        self.latencies.append((time.perf_counter() - start) * 1000)
        if not 200 <= status < 400:
            self.errors.append(f"{method} {path}: {status}")
            return None
        return text

    def run(self) -> None:
        try:
            self.login()
        except Exception as exc:  # reported as an error; the others go on
            self.errors.append(f"login: {exc!r}")
        self.window.started.wait()
        if self.errors:
            return
        item: int | None = None
        while time.perf_counter() < self.window.deadline:
            if item is None:
                page = self._timed("GET", f"/queues/{self.queue_id}/")
                found = _ITEM.search(page or "")
                item = int(found.group(1)) if found else None
                continue
            form = {"decision": self.rng.choice(["accept", "reject"]), "note": "", "time_spent_ms": "5000"}
            fragment = self._timed(
                "POST",
                f"/queues/{self.queue_id}/items/{item}/annotate/",
                body=urlencode(form),
                headers={"HX-Request": "true", "X-CSRFToken": self.cookies.get("csrftoken", "")},
            )
            found = _ITEM.search(fragment or "")
            item = int(found.group(1)) if found else None
        if self.connection is not None:
            self.connection.close()


def _collectstatic(env: dict[str, str]) -> None:
    """With GRM_DEBUG=0 pages link hashed static files: collect them, as the Docker image does."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
    )


def load(queue: ReviewQueue, accounts: list[tuple[str, str]], env: dict[str, str]) -> tuple[list[Reviewer], float]:
    """Reviewers annotating through gunicorn for LOAD_SECONDS; (the reviewers, the seconds measured)."""
    _collectstatic(env)
    port = _free_port()
    web = start_gunicorn(port, env)
    try:
        _wait_http(port, 60)
        window = Window(len(accounts) + 1, LOAD_SECONDS)
        reviewers = [Reviewer(port, username, password, queue.pk, window) for username, password in accounts]
        for reviewer in reviewers:
            reviewer.start()
        window.started.wait(timeout=300)
        for reviewer in reviewers:
            reviewer.join(LOAD_SECONDS + 120)
        return reviewers, time.perf_counter() - window.start
    finally:
        web.terminate()
        try:
            web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            web.kill()


def _truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reviews_query, reviews_reviewqueue RESTART IDENTITY CASCADE")
    Run.objects.filter(dataset__name=DATASET).delete()
    Dataset.objects.filter(name=DATASET).delete()


def bench_review() -> Iterator[tuple[str, float | int | str]]:
    if connection.vendor != "postgresql":
        yield "review_fill_s", "skipped (needs PostgreSQL: set DATABASE_URL)"
        return
    rng = random.Random(5)
    password = secrets.token_urlsafe()
    started = time.perf_counter()
    dataset, run = fill(QUERIES)
    copied = time.perf_counter()
    rendered = prerender()
    prerendered = time.perf_counter()
    admin = user_create(username="bench-review-admin", password=password, roles=[ADMIN])
    queue = queue_create(
        name="bench review",
        dataset=dataset,
        run=run,
        filters=QueueFilters(),
        # Ranked by the meta score, consecutive items belong to different queries: almost every next
        # item shows texts this process has not rendered yet.
        priority=ReviewQueue.Priority.META_UNCERTAIN,
        created_by=admin,
    )
    queued = time.perf_counter()
    _analyze()
    filled = time.perf_counter()
    yield "review_queries", QUERIES
    yield "review_samples", QUERIES * K
    yield "review_queue_items", queue.item_count
    yield "review_copy_s", round(copied - started, 1)
    yield "review_texts_rendered", rendered
    yield "review_prerender_s", round(prerendered - copied, 1)
    yield "review_queue_create_s", round(queued - prerendered, 1)
    yield "review_vacuum_analyze_s", round(filled - queued, 1)
    yield "review_fill_s", round(filled - started, 1)

    reviewer = user_create(username="bench-reviewer", password=password, roles=[REVIEWER])
    modes = list(FailureMode.objects.filter(active=True).values_list("code", flat=True))
    all_ids = list(dataset.queries.values_list("id", flat=True))
    query_ids = rng.sample(all_ids, min(len(all_ids), 2 * (REQUESTS + WARMUP)))  # two sets of distinct pages
    timer = ServerTimer(reviewer, rng)
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False):
        timer.query_pages("query_page", dataset, run, query_ids[: len(query_ids) // 2])
        timer.next_items("next_item", queue, REQUESTS + WARMUP, modes)
        # The same pages once every query has an earlier review, as after a first round of reviewing.
        yield "review_earlier_annotations", earlier_reviews(run, admin)
        timer.query_pages("query_page_reviewed", dataset, run, query_ids[len(query_ids) // 2 :])
    times = timer.times
    baseline = statistics.median(times["baseline"])
    for name in ("query_page", "next_item", "query_page_reviewed"):
        median, p95 = _median_p95(times[name])
        yield f"{name}_median_ms", round(median, 1)
        yield f"{name}_p95_ms", round(p95, 1)
    yield "baseline_median_ms", round(baseline, 2)
    for name in ("query_page", "next_item", "query_page_reviewed"):
        yield f"{name}_p95_vs_baseline", round(_median_p95(times[name])[1] / baseline, 1)

    accounts = [(f"bench-reviewer-{n:02d}", password) for n in range(LOAD_REVIEWERS)]
    for username, _ in accounts:
        user_create(username=username, password=password, roles=[REVIEWER])
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as scratch:
        env = process_env(
            GRM_DEBUG="0",
            GRM_SECRET_KEY="bench-" + "x" * 60,
            GRM_ALLOWED_HOSTS="127.0.0.1",
            GRM_HTTPS="0",
            GRM_LOG_LEVEL="WARNING",
            GRM_STATIC_ROOT=str(Path(scratch) / "static"),
        )
        reviewers, seconds = load(queue, accounts, env)
    latencies = [latency for reviewer in reviewers for latency in reviewer.latencies]
    errors = [error for reviewer in reviewers for error in reviewer.errors]
    for error in errors[:5]:
        print(f"review load error: {error}", file=sys.stderr)
    yield "review_load_reviewers", len(reviewers)
    yield "review_load_seconds", round(seconds, 1)
    yield "review_load_errors", len(errors)
    yield "review_load_requests", len(latencies)
    yield "review_load_requests_per_s", round(len(latencies) / seconds, 1)
    if latencies:
        median, p95 = _median_p95(latencies)
        yield "review_load_median_ms", round(median, 1)
        yield "review_load_p95_ms", round(p95, 1)
    yield "review_load_items_done", QueueItem.objects.filter(queue=queue, is_open=False).count()
    # With one reviewer per item, an item annotated twice was handed to two reviewers at once.
    yield "review_load_items_done_twice", QueueItem.objects.filter(queue=queue, done_count__gt=1).count()
    _truncate()
