"""Building a release of 1,000,000 samples from PostgreSQL, against a raw COPY of the same rows.

Fill (COPY): 125,000 queries (GRM_BENCH_EXPORT_QUERIES) with a prompt of about 140 characters and two
responses of about 500, judged by four runs (each run a quarter of the queries) with k = 8: 1,000,000
samples (principles of about 300 characters, a critique of about 750, the raw output holding both),
every one correct and accepted by the rule, so an `rft_sft` release of the whole database selects all
of them. Every text is distinct, so no row is a duplicate.

Measured: `release_build` of that release in a child process (its wall time and its peak resident
memory, VmHWM), the same for a release of one run (a quarter of the rows) to show whether memory grows
with the size, and the baseline: `COPY (SELECT ...) TO STDOUT` of what the exporter reads (the selected
samples joined to their queries in the export's order, the queries' texts, their responses), read
whole by psycopg. The release files are deleted afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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

from reviews.models import Dataset, Release, Run
from reviews.services.configs import defaults_ensure
from reviews.services.releases import release_create
from tests.bench.review import Texts, _copy, _copy_text
from tests.processes import process_env

QUERIES = int(os.environ.get("GRM_BENCH_EXPORT_QUERIES", "125000"))
TIMEOUT_S = float(os.environ.get("GRM_BENCH_EXPORT_TIMEOUT", "1800"))  # per build: the benchmark stops itself
KIND = "rft_sft"
K = 8
RUNS = 4
DATASET = "bench-export"
SUBSETS = ["chat", "reasoning", "safety", "code"]

# What the exporter reads for rft_sft (reviews.selectors.exports; principles and critique only for
# metarm), as three plain statements.
_COPY_SAMPLES = (
    "COPY (SELECT s.id, s.run_id, s.query_id, s.sample_index, s.permutation, s.raw_text, "
    "s.hinted, s.correct, s.parse_status, s.decision, s.decision_reason, s.decision_source "
    "FROM reviews_sample s JOIN reviews_query q ON q.id = s.query_id "
    "WHERE s.decision = 'accept' ORDER BY q.content_hash, s.query_id, s.run_id, s.id) TO STDOUT"
)
_COPY_QUERIES = (
    "COPY (SELECT q.id, q.external_id, d.name, q.subset, q.context, q.best_index, q.rating, q.content_hash "
    "FROM reviews_query q JOIN reviews_dataset d ON d.id = q.dataset_id "
    "WHERE q.id IN (SELECT s.query_id FROM reviews_sample s WHERE s.decision = 'accept')) TO STDOUT"
)
_COPY_RESPONSES = (
    "COPY (SELECT r.query_id, r.position, r.text FROM reviews_response r "
    "WHERE r.query_id IN (SELECT s.query_id FROM reviews_sample s WHERE s.decision = 'accept') "
    "ORDER BY r.query_id, r.position) TO STDOUT"
)


def fill(count: int) -> list[Run]:
    """`count` queries with two responses; RUNS runs, run r judging the queries n with n % RUNS == r."""
    texts = Texts(seed=11)
    template, model = defaults_ensure()
    dataset = Dataset.objects.create(name=DATASET, description="export benchmark")
    now = timezone.now()
    per_run = [len(range(r, count, RUNS)) for r in range(RUNS)]
    runs = [
        Run.objects.create(
            dataset=dataset,
            model_config=model,
            template=template,
            k=K,
            status=Run.Status.DONE,
            queries_total=per_run[r],
            queries_done=per_run[r],
            samples_done=per_run[r] * K,
            started_at=now,
            finished_at=now,
        )
        for r in range(RUNS)
    ]
    stamp = now.isoformat()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM reviews_query")
        first = int(cursor.fetchone()[0]) + 1

    def queries() -> Iterator[str]:
        for n in range(count):
            prompt = f"{texts.prompts[n % 211]} (case {n})"
            context = _copy_text(json.dumps([{"role": "user", "content": prompt}]))
            digest = hashlib.sha256(f"{DATASET}:{n}".encode()).hexdigest()
            yield (
                f"{first + n}\t{dataset.id}\tq-{n}\t{SUBSETS[n % 4]}\t{context}\t{_copy_text(prompt)}\t{n % 2}\t"
                f"\\N\t{digest}\t{{}}\t{stamp}\n"
            )

    def responses() -> Iterator[str]:
        for n in range(count):
            for position in range(2):
                text = _copy_text(f"{texts.responses[(n * 2 + position * 7) % 997]}\n\nReference {n}-{position}.")
                yield f"{first + n}\t{position}\t{text}\t{{}}\n"

    def samples() -> Iterator[str]:
        for n in range(count):
            run_id, best = runs[n % RUNS].id, n % 2
            for index in range(K):
                row = n * K + index
                permutation = "[0, 1]" if (row * 7) % 3 else "[1, 0]"
                principles = f"{texts.principles[row % 503]} (Sample {index + 1} of q-{n}.)"
                critique = f"{texts.critiques[(row * 3) % 1009]} (Sample {index + 1} of q-{n}.)"
                high, low = 6 + row % 5, 1 + row % 5
                scores = [high, low] if best == 0 else [low, high]
                shown = scores if permutation == "[0, 1]" else scores[::-1]
                boxed = f"\\boxed{{{shown[0]}, {shown[1]}}}"
                raw = f"Specific Criteria: {principles}\nAnalysis: {critique}\nScores: {boxed}"
                yield (
                    f"{run_id}\t{first + n}\t{index}\t{permutation}\t{_copy_text(raw)}\t{_copy_text(principles)}\t"
                    f"{_copy_text(critique)}\t[{scores[0]}, {scores[1]}]\tok\tf\tf\tf\t{1100 + row % 300}\t"
                    f"{280 + row % 200}\t{1500 + row % 900}\t{(row % 97) / 10 - 4.8}\tt\tcorrect\taccept\tcorrect\t"
                    f"rule\t{stamp}\n"
                )

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
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('reviews_query', 'id'), %s)", [first + count - 1])
    with connection.cursor() as cursor:
        for table in ("reviews_query", "reviews_response", "reviews_sample"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return runs


def raw_copy() -> tuple[float, int]:
    """Seconds and bytes to read what the exporter reads through COPY ... TO STDOUT."""
    size = 0
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in (_COPY_SAMPLES, _COPY_QUERIES, _COPY_RESPONSES):
            with cursor.copy(statement) as copy:
                for block in copy:
                    size += len(block)
    return time.perf_counter() - start, size


def build_in_child(release: Release, env: dict[str, str]) -> dict[str, Any]:
    """`release_build` in its own process (tests.bench.export_build); what it reports."""
    command = [sys.executable, "-m", "tests.bench.export_build", str(release.id)]
    try:
        done = subprocess.run(
            command, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the build of {release} took over {TIMEOUT_S:.0f} s (GRM_BENCH_EXPORT_TIMEOUT)") from None
    if done.returncode != 0:
        raise RuntimeError(f"the build of {release} failed ({done.returncode}): {done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if report["status"] != Release.Status.READY:
        raise RuntimeError(f"the build of {release} ended {report['status']}: {report['error_message']}")
    return report


def _file_figures(prefix: str, files: list[dict[str, Any]]) -> Iterator[tuple[str, float | int | str]]:
    for kind in ("jsonl", "parquet"):
        size = sum(file["bytes"] for file in files if file["format"] == kind)
        yield f"{prefix}_{kind}_mb", round(size / 1e6)


def _truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reviews_query, reviews_release RESTART IDENTITY CASCADE")
    Run.objects.filter(dataset__name=DATASET).delete()
    Dataset.objects.filter(name=DATASET).delete()


def bench_export() -> Iterator[tuple[str, float | int | str]]:
    if connection.vendor != "postgresql":
        yield "export_samples_per_s", "skipped (needs PostgreSQL: set DATABASE_URL)"
        return
    started = time.perf_counter()
    runs = fill(QUERIES)
    samples = QUERIES * K
    yield "export_samples", samples
    yield "export_fill_s", round(time.perf_counter() - started, 1)
    copy_seconds, copy_bytes = raw_copy()
    yield "export_copy_s", round(copy_seconds, 2)
    yield "export_copy_mb", round(copy_bytes / 1e6)
    yield "export_copy_samples_per_s", round(samples / copy_seconds)

    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as scratch:
        env = process_env(GRM_RELEASE_DIR=str(Path(scratch) / "releases"), GRM_LOG_LEVEL="WARNING")
        whole = release_create(kind=KIND, name="bench-export", build=False)
        report = build_in_child(whole, env)
        shutil.rmtree(Path(scratch) / "releases", ignore_errors=True)  # gigabytes: gone before the next build
        read = report["counts"]["source_rows"]
        if read != samples or report["counts"]["rows"] != samples:
            raise RuntimeError(f"the release did not hold every sample: {report['counts']}")
        yield "export_kind", KIND
        yield "export_rows", report["counts"]["rows"]
        yield "export_s", round(report["seconds"], 1)
        if report["first_progress_s"] is not None:  # None below 10,000 rows
            yield "export_first_10000_rows_s", round(report["first_progress_s"], 1)
        yield "export_samples_per_s", round(read / report["seconds"])
        yield "export_vs_copy", round(report["seconds"] / copy_seconds, 1)
        yield from _file_figures("export", report["files"])
        yield "export_rss_before_build_mb", round(report["rss_before_mb"])
        yield "export_peak_rss_mb", round(report["peak_rss_mb"])

        quarter = release_create(kind=KIND, filters={"run": [runs[0].id]}, name="bench-export-quarter", build=False)
        report = build_in_child(quarter, {**env, "GRM_BENCH_EXPORT_PROFILE": ""})
        yield "export_quarter_rows", report["counts"]["rows"]
        yield "export_quarter_s", round(report["seconds"], 1)
        yield "export_quarter_samples_per_s", round(report["counts"]["source_rows"] / report["seconds"])
        yield "export_peak_rss_mb_quarter", round(report["peak_rss_mb"])
    _truncate()
