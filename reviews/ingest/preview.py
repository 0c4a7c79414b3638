"""The first items of a file as the importer will read them: the upload page's preview.

Pure: the same reader and normalizer as the import, run over the head of the file the browser sends
(the first bytes, not the whole file), so what the preview shows is what ingestion will do.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from reviews.ingest.formats import FORMAT_FIELDS, FieldErrors, Limits, QueryItem, guess_format, normalize
from reviews.ingest.readers import RecordError, read_records

PREVIEW_ITEMS = 5
DEFAULT_LIMITS = Limits()
PREVIEW_HEAD_CHARS = 128 * 1024  # how much of the file the browser sends (static/js/upload.js reads this much)


@dataclass
class PreviewRow:
    """One item of the head: what the importer makes of it, or why it refuses it."""

    line: int
    item: QueryItem | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    fields: tuple[str, ...] = ()  # the record's own field names, in the file's order


@dataclass
class Preview:
    rows: list[PreviewRow]
    fields: list[str]  # every field name the previewed records use, first seen first
    read_fields: tuple[str, ...]  # the fields the chosen format reads
    guessed_format: str | None  # the format the first record looks like (after renaming), if any
    partial_head: bool  # only the start of the file was read
    renames: dict[str, str] = field(default_factory=dict)

    def read_as(self, name: str) -> str:
        return self.renames.get(name, name)

    @property
    def ignored_fields(self) -> list[str]:
        """The file's fields that the format will not read, after renaming: ignored on import."""
        return [name for name in self.fields if self.read_as(name) not in self.read_fields]

    @property
    def field_rows(self) -> list[tuple[str, str, bool]]:
        """Each file field with what it is renamed to ("" for none) and whether the format reads it."""
        return [(name, self.renames.get(name, ""), self.read_as(name) in self.read_fields) for name in self.fields]

    @property
    def all_refused(self) -> bool:
        return bool(self.rows) and all(row.item is None for row in self.rows)


def preview(
    head: bytes,
    *,
    complete: bool,
    fmt: str,
    field_map: Mapping[str, str] | None = None,
    subset: str = "",
    limits: Limits = DEFAULT_LIMITS,
    items: int = PREVIEW_ITEMS,
) -> Preview:
    """Read up to `items` records from `head` (the whole file when `complete`, else its first bytes)
    and normalize each as the import would."""
    renames = dict(field_map or {})
    if not complete and not head.lstrip().startswith(b"["):
        head = head[: head.rfind(b"\n") + 1]  # JSON Lines: only whole lines
    rows: list[PreviewRow] = []
    fields: dict[str, None] = {}
    guessed: str | None = None
    for line, record in read_records(io.BytesIO(head)):
        if isinstance(record, RecordError):
            if not complete and record.message.startswith("truncated JSON"):
                break  # the head ends inside an array's item: the file goes on
            rows.append(PreviewRow(line, errors=[(record.field, record.message)]))
        else:
            fields.update(dict.fromkeys(record))
            if guessed is None:
                guessed = guess_format(renames.get(name, name) for name in record)
            row = PreviewRow(line, fields=tuple(record))
            try:
                row.item = normalize(record, fmt, field_map=renames, subset=subset, limits=limits)
            except FieldErrors as exc:
                row.errors = exc.errors
            rows.append(row)
        if len(rows) >= items:
            break
    return Preview(
        rows=rows,
        fields=list(fields),
        read_fields=FORMAT_FIELDS[fmt],
        guessed_format=guessed,
        partial_head=not complete,
        renames=renames,
    )
