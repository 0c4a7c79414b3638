"""Writing one release's rows as JSON Lines and Parquet, a split each, with their sha256.

The same rows in the same order give byte-identical files: JSON with a fixed key order and no
whitespace, Parquet with a fixed schema, row-group size and compression, and no pandas metadata.
Rows are written in groups of about 4 MB of JSON, by a thread per format (writer threads), so memory
stays flat whatever the release's size and the builder's thread only makes rows.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from reviews.exports.records import COLUMNS

ROW_GROUP = 4096  # rows at most in one Parquet row group
ROW_GROUP_BYTES = 4 << 20  # and about this much JSON text: a group's rows are held in memory until written
SPLITS = ("train", "validation")

_CHAT = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_TYPES = {"chat": _CHAT, "string": pa.string(), "int": pa.int64(), "bool": pa.bool_()}


# Columns whose every row has its own value: a content hash, a sample's output. The others repeat (a
# query's prompt is shared by its samples, names and labels by many rows).
_UNIQUE = ("id", "completion", "chosen", "rejected")


def schema(kind: str) -> pa.Schema:
    """The Parquet schema of a kind's rows (records.COLUMNS), as readers see it: no column is nullable."""
    return pa.schema([pa.field(name, _TYPES[type_], nullable=False) for name, type_ in COLUMNS[kind].items()])


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns Parquet dictionary-encodes: all but `_UNIQUE`'s (a dictionary there would only cost
    hashing each value before the writer falls back to plain encoding)."""
    paths = []
    for field in schema:
        if field.type == _CHAT:  # Parquet names a list's leaves <column>.list.element.<field>
            paths.append(f"{field.name}.list.element.role")
            if field.name not in _UNIQUE:
                paths.append(f"{field.name}.list.element.content")
        elif field.name not in _UNIQUE:
            paths.append(field.name)
    return paths


class _Background:
    """A thread doing one format's writes in the order they come (a release has two: JSON Lines
    written and hashed, Parquet row groups encoded and compressed). Most of that work lets go of the
    GIL, so it runs beside the build's Python work, and a slow disk holds up only its own thread. At
    most `depth` jobs wait (memory stays flat); the first error is raised to the builder at its next
    call."""

    def __init__(self, name: str, depth: int = 1) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"release-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._error is None:  # after an error, the rest is drained unwritten
                try:
                    job()
                except BaseException as error:  # raised again in the builder's thread
                    self._error = error

    def submit(self, job: Callable[[], None]) -> None:
        self.raise_error()
        self._jobs.put(job)

    def stop(self) -> None:
        """Wait for every job to finish (idempotent)."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error


class _Split:
    def __init__(self, folder: Path, name: str, schema: pa.Schema, jsonl: _Background, parquet: _Background) -> None:
        self.name = name
        self.schema = schema
        self.jsonl_thread = jsonl
        self.parquet_thread = parquet
        self.jsonl_path = folder / f"{name}.jsonl"
        self.parquet_path = folder / f"{name}.parquet"
        self.jsonl: IO[bytes] = self.jsonl_path.open("wb")
        self.jsonl_sha256 = hashlib.sha256()  # hashed as written: the file is never read back
        self.parquet: pq.ParquetWriter | None = None
        self.pending: list[dict[str, Any]] = []
        self.lines: list[bytes] = []
        self.pending_bytes = 0
        self.rows = 0

    def add(self, row: dict[str, Any], line: bytes | None = None) -> None:
        line = line if line is not None else json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
        self.pending.append(row)
        self.lines.append(line)
        self.pending_bytes += len(line)
        self.rows += 1
        if len(self.pending) >= ROW_GROUP or self.pending_bytes >= ROW_GROUP_BYTES:
            self.flush()

    def flush(self) -> None:
        """Hand the pending rows to the writer threads."""
        if not self.pending:
            return
        rows, lines = self.pending, self.lines
        self.pending, self.lines, self.pending_bytes = [], [], 0
        self.jsonl_thread.submit(lambda: self._write_jsonl(lines))
        self.parquet_thread.submit(lambda: self._write_parquet(rows))

    def _write_jsonl(self, lines: list[bytes]) -> None:  # in the JSON Lines thread
        lines.append(b"")
        data = b"\n".join(lines)
        self.jsonl.write(data)
        self.jsonl_sha256.update(data)

    def _write_parquet(self, rows: list[dict[str, Any]]) -> None:  # in the Parquet thread
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(
                self.parquet_path,
                self.schema,
                compression="zstd",
                use_dictionary=_dictionary_columns(self.schema),
                write_statistics=False,
                store_schema=False,
            )
        self.parquet.write_table(pa.Table.from_pylist(rows, schema=self.schema), row_group_size=ROW_GROUP)

    def abort(self) -> None:
        """Close the files without finishing them (a failed build removes its folder); after the writer
        thread has stopped."""
        self.jsonl.close()
        if self.parquet is not None:
            self.parquet.close()
            self.parquet = None

    def close(self) -> list[Path]:
        """Close the files, after the writer thread has written every row (ReleaseWriter.close)."""
        self.jsonl.close()
        if self.parquet is not None:
            self.parquet.close()
        if not self.rows:  # an empty split has no files
            self.jsonl_path.unlink()
            return []
        return [self.jsonl_path, self.parquet_path]


class ReleaseWriter:
    """Rows of one kind into `folder`/{train,validation}.{jsonl,parquet}; `close` returns each file's
    name, split, format, rows, bytes and sha256. The files are written by a thread of their own."""

    def __init__(self, folder: Path, kind: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.threads = (_Background("jsonl"), _Background("parquet"))
        self.splits = {name: _Split(folder, name, schema(kind), *self.threads) for name in SPLITS}

    def add(self, row: dict[str, Any], *, validation: bool, line: bytes | None = None) -> None:
        """Add a row; `line` is its JSON when the caller has it already (equal to what dumps would give)."""
        self.splits["validation" if validation else "train"].add(row, line)

    def abort(self) -> None:
        for thread in self.threads:
            thread.stop()
        for split in self.splits.values():
            split.abort()

    def close(self) -> list[dict[str, Any]]:
        for split in self.splits.values():
            split.flush()
        for thread in self.threads:
            thread.stop()
            thread.raise_error()
        files = []
        for split in self.splits.values():
            for path in split.close():
                files.append(
                    {
                        "name": path.name,
                        "split": split.name,
                        "format": "parquet" if path.suffix == ".parquet" else "jsonl",
                        "rows": split.rows,
                        "bytes": path.stat().st_size,
                        "sha256": split.jsonl_sha256.hexdigest() if path.suffix == ".jsonl" else file_sha256(path),
                    }
                )
        return files


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_digest(files: list[dict[str, Any]]) -> str:
    """One sha256 for a release's data: over its files' names and hashes, as `sha256sum` lists them."""
    lines = "".join(f"{file['sha256']}  {file['name']}\n" for file in sorted(files, key=lambda f: f["name"]))
    return hashlib.sha256(lines.encode()).hexdigest()
