"""Importer throughput: the full path (stream, validate, check ids, bulk insert) against parsing alone."""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from django.conf import settings

from reviews.ingest.formats import Limits, normalize
from reviews.ingest.readers import read_records
from reviews.models import Dataset
from reviews.services.datasets import dataset_import

ITEMS = 20_000
LLMBAR = Path(settings.BASE_DIR).parent / "shared" / "data" / "llmbar"


def synthetic_jsonl(count: int, seed: int = 0) -> bytes:
    """`count` native items, two responses of about 500 characters each."""
    rng = random.Random(seed)
    words = [
        "the",
        "model",
        "answer",
        "should",
        "explain",
        "each",
        "step",
        "clearly",
        "and",
        "check",
        "units",
        "before",
        "the",
        "final",
        "result",
    ]

    def text(n_chars: int) -> str:
        out: list[str] = []
        while sum(len(w) + 1 for w in out) < n_chars:
            out.append(rng.choice(words))
        return " ".join(out)

    lines = (
        json.dumps({"id": f"s{i}", "prompt": text(120), "responses": [text(500), text(500)], "best": i % 2})
        for i in range(count)
    )
    return "\n".join(lines).encode()


def parse_only(data: bytes) -> int:
    """The baseline: read and validate every record, store nothing."""
    limits = Limits()
    count = 0
    for _, record in read_records(io.BytesIO(data)):
        assert isinstance(record, dict)
        normalize(record, "native", limits=limits)
        count += 1
    return count


T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def bench_import() -> Iterator[tuple[str, float | int | str]]:
    data = synthetic_jsonl(ITEMS)
    parse_seconds, parsed = timed(lambda: parse_only(data))
    assert parsed == ITEMS
    import_seconds, report = timed(
        lambda: dataset_import(dataset_name="bench-import", stream=io.BytesIO(data), fmt="native")
    )
    assert report.created == ITEMS
    again_seconds, again = timed(
        lambda: dataset_import(dataset_name="bench-import", stream=io.BytesIO(data), fmt="native")
    )
    assert again.unchanged == ITEMS
    yield "import_items", ITEMS
    yield "import_items_per_s", round(ITEMS / import_seconds)
    yield "import_parse_only_items_per_s", round(ITEMS / parse_seconds)
    yield "import_vs_parse_only", round(import_seconds / parse_seconds, 2)
    yield "reimport_items_per_s", round(ITEMS / again_seconds)
    Dataset.objects.filter(name="bench-import").delete()
    if LLMBAR.is_dir():
        files = sorted(LLMBAR.glob("*.json"))
        start = time.perf_counter()
        total = 0
        for path in files:
            with path.open("rb") as stream:
                total += dataset_import(
                    dataset_name="bench-llmbar", stream=stream, fmt="llmbar", subset=path.stem
                ).created
        yield "import_llmbar_items_per_s", round(total / (time.perf_counter() - start))
    else:
        yield "import_llmbar_items_per_s", f"skipped (no public data at {LLMBAR})"
