"""Writes for datasets: importing queries with their responses and labels (the importer command, the
upload task and the demo all come here), and the dataset name rule."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from reviews import rendering
from reviews.errors import InvalidInput
from reviews.ingest import copy_writer
from reviews.ingest.formats import FieldErrors, Limits, normalize
from reviews.ingest.readers import RecordError, read_records
from reviews.locks import lock_for_transaction
from reviews.models import Dataset, Query, Response

logger = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 10_000


@dataclass
class ImportReport:
    """What an import did: counts, and the bad lines with their fields (the first MAX_REPORTED_ERRORS)."""

    dataset: str
    created: int = 0
    unchanged: int = 0
    items: int = 0  # records read, good and bad
    lines: int = 0  # the line of the last record
    errors: list[RecordError] = field(default_factory=list)
    error_count: int = 0
    stored: bool = True

    @property
    def ok(self) -> bool:
        return not self.error_count

    def add_error(self, error: RecordError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


@dataclass(frozen=True)
class ImportProgress:
    """How far an import has come: items read, new queries written (kept only if the import commits),
    items already stored, bad lines so far, and the bytes of the file read."""

    items: int
    created: int
    unchanged: int
    rejected: int
    bytes_read: int
    written: bool = False  # every item is read and written: the commit comes next


PROGRESS_EVERY_ITEMS = 250  # how often an import reports progress (the callback throttles further)


class ImportRefused(InvalidInput):
    """The whole import was refused (all-or-nothing policy, a bad dataset name, a cap); nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{report.error_count} bad line(s); nothing was stored")
        self.report = report


def dataset_name_errors(name: str) -> list[str]:
    """Why `name` cannot name a dataset (it appears in URLs), or nothing."""
    if not name:
        return ["a dataset name is required"]
    if len(name) > 100:
        return [f"dataset name is {len(name)} characters; at most 100"]
    if not re.fullmatch(r"[-a-zA-Z0-9_]+", name):
        return [f"dataset name {name!r} may hold only letters, digits, - and _"]
    return []


def _validated_rows(
    stream: IO[bytes],
    *,
    fmt: str,
    field_map: dict[str, str] | None,
    subset: str,
    max_items: int | None,
    report: ImportReport,
    tick: Callable[[], None] | None = None,
) -> Iterator[copy_writer.Row]:
    """Each good item as a row to store; every bad line goes to the report instead. `tick` is called
    every PROGRESS_EVERY_ITEMS items."""
    limits = Limits(max_responses=settings.GRM_MAX_RESPONSES, max_text_chars=settings.GRM_MAX_TEXT_CHARS)
    for items, (line, record) in enumerate(read_records(stream), start=1):
        report.lines, report.items = line, items
        if tick is not None and items % PROGRESS_EVERY_ITEMS == 0:
            tick()
        if max_items is not None and items > max_items:
            report.errors, report.error_count = [], 0
            message = f"the upload holds more than {max_items:,} items, the cap (GRM_UPLOAD_MAX_ITEMS)"
            report.add_error(RecordError(line, "", message))
            raise ImportRefused(report)
        if isinstance(record, RecordError):
            report.add_error(record)
            continue
        try:
            item = normalize(record, fmt, field_map=field_map, subset=subset, limits=limits)
        except FieldErrors as exc:
            for name, message in exc.errors:
                report.add_error(RecordError(line, name, message))
            continue
        yield copy_writer.Row.of(line, item)


def dataset_import(
    *,
    dataset_name: str,
    stream: IO[bytes],
    fmt: str,
    field_map: dict[str, str] | None = None,
    subset: str = "",
    partial: bool = False,
    created_by: User | None = None,
    source: str = "",
    max_items: int | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
) -> ImportReport:
    """Stream records from `stream` into the dataset, creating it if needed. The importer command and
    the upload task both come here.

    One pass, one transaction: each record is validated, and every copy_writer.CHUNK good ones are checked
    against the ids stored (before, or earlier in this file) and written with bulk inserts (COPY on
    PostgreSQL, where a writer thread stores a chunk while the next is validated). Memory does not
    grow with the file.

    Idempotent: an item whose id exists with the same content is counted unchanged; the same id with
    other content is a conflict, the same id twice in the file a duplicate. With partial=False any
    bad line rolls the whole import back (nothing stored, every bad line reported, ImportRefused);
    with partial=True the good lines are stored and the bad ones reported. Concurrent imports into
    one dataset take turns (a PostgreSQL advisory lock; SQLite has a single writer anyway).

    `progress`, if given, is called as the file is read (every PROGRESS_EVERY_ITEMS items) and once
    when every item is written, before the commit.
    """
    report = ImportReport(dataset=dataset_name)
    name_errors = dataset_name_errors(dataset_name)
    if name_errors:
        for message in name_errors:
            report.add_error(RecordError(0, "dataset", message))
        report.stored = False
        raise ImportRefused(report)
    try:
        with transaction.atomic():
            _import_in_transaction(
                report,
                stream,
                fmt=fmt,
                field_map=field_map,
                subset=subset,
                partial=partial,
                created_by=created_by,
                source=source,
                max_items=max_items,
                progress=progress,
            )
    except ImportRefused:
        report.stored = False
        report.created = report.unchanged = 0
        raise
    logger.info(
        "import into %s: %d created, %d unchanged, %d errors",
        dataset_name,
        report.created,
        report.unchanged,
        report.error_count,
    )
    return report


def _import_in_transaction(
    report: ImportReport,
    stream: IO[bytes],
    *,
    fmt: str,
    field_map: dict[str, str] | None,
    subset: str,
    partial: bool,
    created_by: User | None,
    source: str,
    max_items: int | None,
    progress: Callable[[ImportProgress], None] | None,
) -> None:
    lock_for_transaction(f"grm-import:{report.dataset}")
    dataset, new_dataset = Dataset.objects.get_or_create(
        name=report.dataset, defaults={"created_by": created_by, "source": source}
    )
    writer = copy_writer.Writer(connection, dataset.id, dataset.name, timezone.now())
    tick: Callable[..., None] | None = None
    if progress is not None:

        def tick(written: bool = False) -> None:
            # The writer's counts are ints another thread updates: read as they stand.
            outcome = writer.outcome
            rejected = report.error_count + len(outcome.errors)
            position = _position(stream)
            progress(ImportProgress(report.items, outcome.created, outcome.unchanged, rejected, position, written))

    rows = _validated_rows(
        stream, fmt=fmt, field_map=field_map, subset=subset, max_items=max_items, report=report, tick=tick
    )
    with copy_writer.writing(writer) as submit:
        while chunk := list(itertools.islice(rows, copy_writer.CHUNK)):
            submit(chunk)
    if tick is not None:
        tick(written=True)
    outcome = writer.outcome
    report.created, report.unchanged = outcome.created, outcome.unchanged
    for error in outcome.errors:
        report.add_error(error)
    report.errors.sort(key=lambda error: error.line)
    if report.lines == 0 and not report.error_count:
        report.add_error(RecordError(1, "", "the file holds no items"))
    if not report.ok and not partial:
        raise ImportRefused(report)
    if new_dataset and not report.created:
        dataset.delete()  # nothing stored: leave no empty dataset behind


def _position(stream: IO[bytes]) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError):  # a stream that cannot tell: progress by items only
        return 0


DEMO_FILE = settings.BASE_DIR / "reviews" / "demo" / "demo.jsonl"
DEMO_DATASET = "demo"


def demo_load() -> ImportReport:
    """The team-written demo dataset (chat, reasoning, safety, code); loading it twice changes nothing."""
    with DEMO_FILE.open("rb") as stream:
        report = dataset_import(
            dataset_name=DEMO_DATASET, stream=stream, fmt="native", source="reviews/demo/demo.jsonl"
        )
    Dataset.objects.filter(name=DEMO_DATASET, description="").update(
        description="Written by the team: chat, reasoning with verifiable answers, safety and coding."
    )
    return report


def dataset_prerender(
    *, dataset: Dataset, since: datetime | None = None, query_ids: tuple[int, int] | None = None
) -> int:
    """Render the Markdown of the dataset's queries and responses (those stored since `since`, or with
    ids from query_ids[0] up to query_ids[1]) into reviews.rendering's store, so their pages need not;
    returns how many texts were rendered."""
    queries = Query.objects.filter(dataset=dataset)
    if since is not None:
        queries = queries.filter(created_at__gte=since)
    if query_ids is not None:
        queries = queries.filter(id__gte=query_ids[0], id__lt=query_ids[1])

    def sources() -> Iterator[rendering.Source]:
        for context in queries.values_list("context", flat=True).iterator(2000):
            for message in context if isinstance(context, list) else []:
                if isinstance(message, dict):
                    yield rendering.markdown(str(message.get("content", "")))
        texts = Response.objects.filter(query__in=queries).values_list("text", flat=True)
        yield from (rendering.markdown(text) for text in texts.iterator(2000))

    return rendering.prerender(sources())
