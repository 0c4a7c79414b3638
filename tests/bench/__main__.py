"""Benchmarks: `python -m tests.bench [NAME ...]` (or `make bench ONLY=NAME`).

Each figure prints on its own line as `name: value`. Targets are ratios against a baseline measured
in the same run, because these machines are shared and noisy; nothing here is a pass/fail test.
Runs on a throw-away test database (SQLite, or PostgreSQL when DATABASE_URL is set).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grmweb.settings")
django.setup()

from django.db import connection  # noqa: E402

from tests.bench import export, ingest, load, metarm, review, sampling, scaling, uploads  # noqa: E402

Benchmark = Callable[[], Iterator[tuple[str, float | int | str]]]
BENCHMARKS: dict[str, Benchmark] = {
    "import": ingest.bench_import,
    "sampling": sampling.bench_sampling,
    "uploads": uploads.bench_uploads,
    "review": review.bench_review,
    "scaling": scaling.bench_scaling,
    "metarm": metarm.bench_metarm,
    "export": export.bench_export,
    "load": load.bench_load,
}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"bench_database: {connection.vendor} ({test_db})")
    try:
        for name in names or list(BENCHMARKS):
            for figure, value in BENCHMARKS[name]():
                print(f"{figure}: {value}", flush=True)
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
