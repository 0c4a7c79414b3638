"""The import's COPY writer: validated rows go to the database a chunk at a time, each chunk checked
against the ids already stored (earlier in the file or before it) and then written with COPY
(PostgreSQL) or executemany (SQLite). Unlike the readers and formats beside it, this module talks to
the database (the caller's connection and transaction).

On PostgreSQL the writing runs in a thread of its own, so the server stores one chunk while Python
validates the next (two cores, both busy). Memory stays flat whatever the file holds: a chunk is
held at a time, and the line of each stored row waits in a temporary file.

Only `reviews.services.datasets.dataset_import` uses this module.
"""

# SQL here interpolates module constants only (table names, status codes); values go as parameters.
# ruff: noqa: S608

from __future__ import annotations

import array
import json
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from django.db import IntegrityError
from django.db.backends.base.base import BaseDatabaseWrapper

from reviews.ingest.formats import QueryItem
from reviews.ingest.readers import RecordError

CHUNK = 5000
_QUEUED_CHUNKS = 2
_JSON = json.JSONEncoder(ensure_ascii=False).encode
_QUERY_COLUMNS = (
    "id, dataset_id, external_id, subset, context, prompt, best_index, rating, content_hash, metadata, created_at"
)


@dataclass(frozen=True)
class Row:
    """A validated item as stored: JSON fields already serialised."""

    line: int
    external_id: str
    subset: str
    context: str
    prompt: str
    best_index: int | None
    rating: int | None
    content_hash: str
    metadata: str
    responses: list[tuple[str, str]]

    @classmethod
    def of(cls, line: int, item: QueryItem) -> Row:
        return cls(
            line,
            item.external_id,
            item.subset,
            _JSON(item.context),
            item.prompt,
            item.best_index,
            item.rating,
            item.content_hash,
            _JSON(item.metadata) if item.metadata else "{}",
            [(text, _JSON(metadata) if metadata else "{}") for text, metadata in item.responses],
        )


@dataclass
class Outcome:
    """What the writer did; `errors` are duplicates and conflicts found against stored ids."""

    created: int = 0
    unchanged: int = 0
    errors: list[RecordError] = field(default_factory=list)


class Writer:
    """Stores the chunks of one import into one dataset, on the caller's connection and transaction."""

    def __init__(self, connection: BaseDatabaseWrapper, dataset_id: int, dataset_name: str, now: datetime) -> None:
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        # The driver's connection, taken here: `django.db.connection` means another one in another thread.
        connection.ensure_connection()
        self.driver_connection = connection.connection
        self.dataset_id = dataset_id
        self.dataset_name = dataset_name
        self.now = now
        self.outcome = Outcome()
        self.sequence: int | None = None  # PostgreSQL: the oid of reviews_query's id sequence
        self.first_id: int | None = None  # the first query id this import stored
        self.optimistic = False
        self.lines = _LineIndex()

    def cursor(self) -> Any:
        # PostgreSQL: the driver's own cursor, usable from the writer thread (Django's wrapper is
        # bound to the thread that opened the connection; the main thread leaves it alone meanwhile).
        return self.driver_connection.cursor() if self.postgres else self.connection.cursor()

    def begin(self) -> None:
        with self.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM reviews_query WHERE dataset_id = %s)", [self.dataset_id])
            (held_queries,) = cursor.fetchone()
        # Into an empty dataset a chunk is stored straight away; the unique index catches an id
        # repeated from an earlier chunk, and only then is the chunk checked row by row.
        self.optimistic = not held_queries

    def end(self) -> None:
        self.lines.close()

    def write(self, rows: list[Row]) -> None:
        """Check one chunk's ids against what is stored, then store its new rows."""
        first_in_chunk: dict[str, int] = {}
        candidates: list[Row] = []
        for row in rows:
            if row.external_id in first_in_chunk:
                self._duplicate(row, first_in_chunk[row.external_id])
            else:
                first_in_chunk[row.external_id] = row.line
                candidates.append(row)
        with self.cursor() as cursor:
            if self.optimistic and self._store_unless_stored(cursor, candidates):
                return
            stored = self._stored(cursor, [row.external_id for row in candidates])
            new: list[Row] = []
            for row in candidates:
                found = stored.get(row.external_id)
                if found is None:
                    new.append(row)
                elif self.first_id is not None and found[0] >= self.first_id:
                    # Stored by this import: imports into one dataset take turns, so ids from our
                    # first one on are ours.
                    self._duplicate(row, self.lines.line_of(found[0]))
                elif found[1] == row.content_hash:
                    self.outcome.unchanged += 1
                else:
                    message = f"id {row.external_id!r} already exists in {self.dataset_name} with other content"
                    self.outcome.errors.append(RecordError(row.line, "id", message))
            if new:
                self._store(cursor, new)

    def _store_unless_stored(self, cursor: Any, rows: list[Row]) -> bool:
        """Store the rows in a savepoint; False (and nothing stored) if one's id is already there."""
        cursor.execute("SAVEPOINT grm_ingest_chunk")
        try:
            self._store(cursor, rows)
        except (IntegrityError, psycopg.IntegrityError):
            cursor.execute("ROLLBACK TO SAVEPOINT grm_ingest_chunk")
            cursor.execute("RELEASE SAVEPOINT grm_ingest_chunk")
            return False
        # Released only here and above: after any other error the transaction is aborted anyway.
        cursor.execute("RELEASE SAVEPOINT grm_ingest_chunk")
        return True

    def _stored(self, cursor: Any, external_ids: list[str]) -> dict[str, tuple[int, str]]:
        if self.postgres:
            cursor.execute(
                "SELECT external_id, id, content_hash FROM reviews_query "
                "WHERE dataset_id = %s AND external_id = ANY(%s)",
                [self.dataset_id, external_ids],
            )
        else:
            placeholders = ", ".join(["%s"] * len(external_ids))
            cursor.execute(
                "SELECT external_id, id, content_hash FROM reviews_query "
                f"WHERE dataset_id = %s AND external_id IN ({placeholders})",
                [self.dataset_id, *external_ids],
            )
        return {external_id: (int(query_id), content_hash) for external_id, query_id, content_hash in cursor}

    def _duplicate(self, row: Row, first_line: int) -> None:
        message = f"duplicate id {row.external_id!r}, first on line {first_line}"
        self.outcome.errors.append(RecordError(row.line, "id", message))

    def _store(self, cursor: Any, rows: list[Row]) -> None:
        ids = self._reserve_ids(cursor, len(rows))
        queries = [
            (
                query_id,
                self.dataset_id,
                row.external_id,
                row.subset,
                row.context,
                row.prompt,
                row.best_index,
                row.rating,
                row.content_hash,
                row.metadata,
                self.now,
            )
            for query_id, row in zip(ids, rows, strict=True)
        ]
        responses = [
            (query_id, position, text, metadata)
            for query_id, row in zip(ids, rows, strict=True)
            for position, (text, metadata) in enumerate(row.responses)
        ]
        if self.postgres:
            _copy(cursor, f"COPY reviews_query ({_QUERY_COLUMNS}) FROM STDIN", queries)
            _copy(cursor, "COPY reviews_response (query_id, position, text, metadata) FROM STDIN", responses)
        else:
            placeholders = ", ".join(["%s"] * 11)
            cursor.executemany(f"INSERT INTO reviews_query ({_QUERY_COLUMNS}) VALUES ({placeholders})", queries)
            cursor.executemany(
                "INSERT INTO reviews_response (query_id, position, text, metadata) VALUES (%s, %s, %s, %s)",
                responses,
            )
        self.lines.add(ids, [row.line for row in rows])
        self.first_id = ids[0] if self.first_id is None else self.first_id
        self.outcome.created += len(rows)

    def _reserve_ids(self, cursor: Any, count: int) -> list[int]:
        if self.postgres:
            if self.sequence is None:
                cursor.execute("SELECT pg_get_serial_sequence('reviews_query', 'id')::regclass::oid")
                (self.sequence,) = cursor.fetchone()
            cursor.execute("SELECT array_agg(nextval(%s::oid)) FROM generate_series(1, %s)", [self.sequence, count])
            (ids,) = cursor.fetchone()
            return sorted(int(value) for value in ids)
        # SQLite: the import's transaction holds the write lock, so no one else takes these.
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM reviews_query")
        (top,) = cursor.fetchone()
        return list(range(int(top) + 1, int(top) + 1 + count))


class _LineIndex:
    """The line of each query this import stored, by query id, in a temporary file: (id, line)
    pairs of 8-byte integers, in id order (ids only grow), found again by binary search."""

    _RECORD = 16

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Writer.end)
        self.count = 0

    def add(self, ids: list[int], lines: list[int]) -> None:
        pairs = array.array("q", [value for pair in zip(ids, lines, strict=True) for value in pair])
        self.file.seek(0, os.SEEK_END)
        self.file.write(pairs.tobytes())
        self.count += len(ids)

    def line_of(self, query_id: int) -> int:
        low, high = 0, self.count - 1
        while low <= high:
            middle = (low + high) // 2
            self.file.seek(middle * self._RECORD)
            found, line = array.array("q", self.file.read(self._RECORD))
            if found == query_id:
                return line
            low, high = (middle + 1, high) if found < query_id else (low, middle - 1)
        raise LookupError(f"query {query_id} was not stored by this import")

    def close(self) -> None:
        self.file.close()


def _copy(cursor: Any, statement: str, rows: list[tuple[Any, ...]]) -> None:
    with cursor.copy(statement) as copy:
        for values in rows:
            copy.write_row(values)


@contextmanager
def writing(writer: Writer) -> Iterator[Any]:
    """Yield a `submit(rows)` function. On PostgreSQL a thread writes while the caller goes on
    validating (at most _QUEUED_CHUNKS chunks wait); elsewhere each chunk is written at once.
    The caller must not use the connection until the block ends. A writer error is raised here."""
    writer.begin()
    try:
        if writer.postgres:
            with _writer_thread(writer) as submit:
                yield submit
        else:
            yield writer.write
    finally:
        writer.end()


@contextmanager
def _writer_thread(writer: Writer) -> Iterator[Any]:
    chunks: queue.Queue[list[Row] | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
    failure: list[BaseException] = []

    def run() -> None:
        while (rows := chunks.get()) is not None:
            if failure:
                continue  # drain: the caller sees the failure on its next submit
            try:
                writer.write(rows)
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)

    def submit(rows: list[Row]) -> None:
        if failure:
            raise failure[0]
        chunks.put(rows)

    thread = threading.Thread(target=run, name="grm-ingest-writer", daemon=True)
    thread.start()
    try:
        yield submit
    finally:
        chunks.put(None)
        thread.join()
    if failure:
        raise failure[0]
