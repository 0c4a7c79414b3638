"""One release build in its own process, so its peak memory is its own: `python -m tests.bench.export_build ID`.

Prints one JSON line: the seconds `release_build` took, the seconds until the first progress report
(the first 10,000 source rows read: mostly PostgreSQL sorting the selection), the resident memory
before the build (Django, pyarrow) and the process's peak (VmHWM), and the release's status, counts
and files. With GRM_BENCH_EXPORT_PROFILE set to a path, the build runs under cProfile and the stats go
there.
"""

from __future__ import annotations

import cProfile
import json
import os
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grmweb.settings")
django.setup()

import pyarrow  # noqa: E402, F401 - loaded before the "before" figure, as a cpu worker has it after its first build

from reviews.services.releases import release_build  # noqa: E402


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(release_id: int) -> None:
    rss_before = _status_mb("VmRSS")
    start = time.perf_counter()
    first: list[float] = []

    def on_progress(done: int, total: int) -> None:
        if not first:
            first.append(time.perf_counter() - start)

    profile_path = os.environ.get("GRM_BENCH_EXPORT_PROFILE", "")
    profiler = cProfile.Profile() if profile_path else None
    if profiler is not None:
        profiler.enable()
    release = release_build(release_id=release_id, on_progress=on_progress)
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile_path)
    if release is None:
        raise SystemExit(f"release {release_id} was not buildable")
    print(
        json.dumps(
            {
                "seconds": seconds,
                "first_progress_s": first[0] if first else None,
                "rss_before_mb": rss_before,
                "peak_rss_mb": _status_mb("VmHWM"),
                "status": release.status,
                "error_message": release.error_message,
                "counts": release.counts,
                "files": release.manifest.get("files", []),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
