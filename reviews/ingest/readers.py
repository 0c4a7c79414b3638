"""Stream records out of a JSON Lines file or a JSON array, each with the line it starts on.

Neither reader holds the whole file in memory: JSONL is read line by line, a JSON array is decoded
element by element from a growing buffer.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

_CHUNK = 1 << 16
_MAX_ITEM_BYTES = 256 << 20
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class RecordError:
    """A problem with one line of the input; `field` is a path such as `responses[1]`, or empty."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        parts = ([f"line {self.line}"] if self.line else []) + ([f"field {self.field}"] if self.field else [])
        return f"{', '.join(parts)}: {self.message}" if parts else self.message


def read_records(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """Yield (line number, record or error) for each item, JSONL or JSON array alike."""
    head = stream.read(_CHUNK)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    first = head.lstrip()[:1]
    if first == b"[":
        yield from _read_array(head, stream)
    else:
        yield from _read_lines(head, stream)


def _decode_line(raw: bytes, line: int) -> str | RecordError:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(line, "", f"not valid UTF-8 (byte {exc.start + 1} of the line)")


def _as_record(value: Any, line: int) -> dict[str, Any] | RecordError:
    if not isinstance(value, dict):
        return RecordError(line, "", f"expected a JSON object, got {json_type(value)}")
    return value


class _NotJson(ValueError):
    """NaN and Infinity: Python's json accepts them, JSON (and PostgreSQL) does not."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"invalid JSON: {name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_TOO_LONG = object()


def _raw_lines(head: bytes, stream: IO[bytes]) -> Iterator[bytes | object]:
    """Each line's bytes (without the newline), or _TOO_LONG for a line over the item size cap."""
    buf = bytearray(head)
    start = scanned = 0
    skipping = False
    while True:
        newline = buf.find(b"\n", scanned)
        if newline >= 0:
            if skipping:
                skipping = False
            else:
                yield bytes(buf[start:newline])
            start = scanned = newline + 1
            continue
        del buf[:start]
        start = 0
        if len(buf) > _MAX_ITEM_BYTES:
            if not skipping:
                yield _TOO_LONG
                skipping = True
            buf.clear()
        scanned = len(buf)
        more = stream.read(_CHUNK)
        if not more:
            if buf and not skipping:
                yield bytes(buf)
            return
        buf += more


def _read_lines(head: bytes, stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    for line, raw in enumerate(_raw_lines(head, stream), start=1):
        if raw is _TOO_LONG:
            yield line, RecordError(line, "", f"the line is longer than {_MAX_ITEM_BYTES:,} bytes")
            continue
        assert isinstance(raw, bytes)
        text = _decode_line(raw, line)
        if isinstance(text, RecordError):
            yield line, text
            continue
        if not text.strip():
            continue
        try:
            value = _DECODER.decode(text)
        except json.JSONDecodeError as exc:
            if line == 1 and text.strip() == "{":
                # A pretty-printed object: neither JSON Lines nor an array of items. Say so once.
                yield (
                    line,
                    RecordError(
                        line,
                        "",
                        "the file is one JSON object spread over lines: give a JSON array of items "
                        "or JSON Lines (one object per line)",
                    ),
                )
                return
            yield line, RecordError(line, "", _describe_json_error(exc, text))
            continue
        except _NotJson as exc:
            yield line, RecordError(line, "", str(exc))
            continue
        except RecursionError:
            yield line, RecordError(line, "", "invalid JSON: nested too deeply")
            continue
        yield line, _as_record(value, line)


def _describe_json_error(exc: json.JSONDecodeError, text: str) -> str:
    # json's messages may end in "at" ("Unterminated string starting at"): name the column once.
    where = f"{exc.msg.lower().removesuffix(' at')} at column {exc.colno}"
    if exc.pos >= len(text.rstrip()) - 1 or "Unterminated" in exc.msg:
        return f"truncated JSON ({where})"
    return f"invalid JSON ({where})"


class _ArrayBuffer:
    """Decoded text of a JSON array being read, with the line number of the read position."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.stream = stream
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.line = 1
        self.eof = False
        self.text = self._decode(head, final=False)

    def _decode(self, data: bytes, *, final: bool) -> str:
        try:
            return self.utf8.decode(data, final=final)
        except UnicodeDecodeError as exc:
            line = self.line + self.text.count("\n", self.pos) + data.count(b"\n", 0, exc.start)
            raise _Utf8Error(line) from None

    def advance(self, to: int) -> None:
        self.line += self.text.count("\n", self.pos, to)
        self.pos = to

    def more(self) -> bool:
        """Append the next chunk (dropping what was read); False at the end of the stream."""
        if self.eof:
            return False
        self.text, self.pos = self.text[self.pos :], 0
        data = self.stream.read(max(_CHUNK, len(self.text)))
        self.eof = not data
        decoded = self._decode(data, final=self.eof)
        self.text += decoded
        return bool(decoded) or not self.eof

    def skip_whitespace(self) -> bool:
        """Move to the next non-blank character; False if the stream ended first."""
        while True:
            end = self.pos
            while end < len(self.text) and self.text[end] in _WHITESPACE:
                end += 1
            self.advance(end)
            if self.pos < len(self.text):
                return True
            if not self.more():
                return False


def _read_array(head: bytes, stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    try:
        buf = _ArrayBuffer(head, stream)
        buf.skip_whitespace()
        buf.advance(buf.pos + 1)  # the opening [
        after_comma = False
        while True:
            if not buf.skip_whitespace():
                yield buf.line, RecordError(buf.line, "", "truncated JSON: the array is never closed with ]")
                return
            if buf.text[buf.pos] == "]":
                if after_comma:
                    yield buf.line, RecordError(buf.line, "", "invalid JSON: a comma before ]")
                    return
                buf.advance(buf.pos + 1)
                if buf.skip_whitespace():
                    yield buf.line, RecordError(buf.line, "", "invalid JSON: more content after the closing ]")
                return
            while True:
                try:
                    value, end = _DECODER.raw_decode(buf.text, buf.pos)
                    break
                except json.JSONDecodeError as exc:
                    # An error at the end of what is buffered may only mean the item continues.
                    at_end = exc.pos >= len(buf.text.rstrip()) or exc.msg.startswith("Unterminated string")
                    if at_end and len(buf.text) - buf.pos <= _MAX_ITEM_BYTES and buf.more():
                        continue
                    if at_end and buf.eof:
                        yield buf.line, RecordError(buf.line, "", f"truncated JSON ({exc.msg.lower()})")
                    elif at_end:
                        message = f"an item longer than {_MAX_ITEM_BYTES:,} bytes"
                        yield buf.line, RecordError(buf.line, "", message)
                    else:
                        line = buf.line + buf.text.count("\n", buf.pos, exc.pos)
                        yield line, RecordError(line, "", f"invalid JSON ({exc.msg.lower()})")
                    return
                except _NotJson as exc:
                    yield buf.line, RecordError(buf.line, "", str(exc))
                    return
                except RecursionError:
                    yield buf.line, RecordError(buf.line, "", "invalid JSON: nested too deeply")
                    return
            line = buf.line
            buf.advance(end)
            after_comma = False
            yield line, _as_record(value, line)
            if not buf.skip_whitespace():
                yield buf.line, RecordError(buf.line, "", "truncated JSON: the array is never closed with ]")
                return
            separator = buf.text[buf.pos]
            if separator == ",":
                buf.advance(buf.pos + 1)
                after_comma = True
            elif separator != "]":  # the closing ] is handled at the top of the loop
                yield buf.line, RecordError(buf.line, "", f"invalid JSON: expected , or ] but found {separator!r}")
                return
    except _Utf8Error as exc:
        yield exc.line, RecordError(exc.line, "", "not valid UTF-8")


class _Utf8Error(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
