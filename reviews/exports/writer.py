"""Writing one release's rows as JSON Lines and Parquet, a split each, with their sha256.

The same rows in the same order give byte-identical files: JSON with a fixed key order and no
whitespace, Parquet with a fixed schema, row-group size and compression, and no pandas metadata.
Rows are written in groups, so memory stays flat whatever the release's size.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from reviews.exports.records import COLUMNS

ROW_GROUP = 4096  # rows at most in one Parquet row group
ROW_GROUP_BYTES = 8 << 20  # and about this much JSON text: a group's rows are held in memory until written
SPLITS = ("train", "validation")

_CHAT = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_TYPES = {"chat": _CHAT, "string": pa.string(), "int": pa.int64(), "bool": pa.bool_()}


def schema(kind: str) -> pa.Schema:
    """The Parquet schema of a kind's rows (records.COLUMNS): no column is nullable."""
    return pa.schema([pa.field(name, _TYPES[type_], nullable=False) for name, type_ in COLUMNS[kind].items()])


class _Split:
    def __init__(self, folder: Path, name: str, schema: pa.Schema) -> None:
        self.name = name
        self.schema = schema
        self.jsonl_path = folder / f"{name}.jsonl"
        self.parquet_path = folder / f"{name}.parquet"
        self.jsonl: IO[bytes] = self.jsonl_path.open("wb")
        self.jsonl_sha256 = hashlib.sha256()  # hashed as written: the file is never read back
        self.parquet: pq.ParquetWriter | None = None
        self.pending: list[dict[str, Any]] = []
        self.pending_bytes = 0
        self.rows = 0

    def add(self, row: dict[str, Any], line: str | None = None) -> None:
        data = (line if line is not None else json.dumps(row, ensure_ascii=False, separators=(",", ":"))).encode()
        data += b"\n"
        self.jsonl.write(data)
        self.jsonl_sha256.update(data)
        self.pending.append(row)
        self.pending_bytes += len(data)
        self.rows += 1
        if len(self.pending) >= ROW_GROUP or self.pending_bytes >= ROW_GROUP_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(
                self.parquet_path, self.schema, compression="zstd", write_statistics=False, store_schema=False
            )
        self.parquet.write_table(pa.Table.from_pylist(self.pending, schema=self.schema), row_group_size=ROW_GROUP)
        self.pending = []
        self.pending_bytes = 0

    def abort(self) -> None:
        """Close the files without finishing them (a failed build removes its folder)."""
        self.jsonl.close()
        if self.parquet is not None:
            self.parquet.close()
            self.parquet = None

    def close(self) -> list[Path]:
        self.flush()
        self.jsonl.close()
        if self.parquet is not None:
            self.parquet.close()
        if not self.rows:  # an empty split has no files
            self.jsonl_path.unlink()
            return []
        return [self.jsonl_path, self.parquet_path]


class ReleaseWriter:
    """Rows of one kind into `folder`/{train,validation}.{jsonl,parquet}; `close` returns each file's
    name, split, format, rows, bytes and sha256."""

    def __init__(self, folder: Path, kind: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.splits = {name: _Split(folder, name, schema(kind)) for name in SPLITS}

    def add(self, row: dict[str, Any], *, validation: bool, line: str | None = None) -> None:
        """Add a row; `line` is its JSON when the caller has it already (equal to what dumps would give)."""
        self.splits["validation" if validation else "train"].add(row, line)

    def abort(self) -> None:
        for split in self.splits.values():
            split.abort()

    def close(self) -> list[dict[str, Any]]:
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
