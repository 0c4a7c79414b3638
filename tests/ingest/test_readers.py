"""Streaming JSON/JSONL reader: records with the line they start on, and a clear error per bad line."""

import io
import json

import pytest

from reviews.ingest import readers
from reviews.ingest.readers import RecordError, read_records


def read(data: bytes):
    return list(read_records(io.BytesIO(data)))


def test_jsonl_records_carry_their_line_numbers_and_blank_lines_are_skipped():
    assert read(b'{"a": 1}\n\n{"b": 2}\n') == [(1, {"a": 1}), (3, {"b": 2})]


def test_jsonl_reports_each_bad_line_and_keeps_reading():
    out = read(b'{"a": 1}\n{"b": \n[1, 2]\n{"c": "\xff"}\n{"d": 4}')
    assert out[0] == (1, {"a": 1})
    assert out[1][0] == 2
    assert "truncated JSON" in out[1][1].message
    assert out[2] == (3, RecordError(3, "", "expected a JSON object, got array"))
    assert out[3][0] == 4
    assert "not valid UTF-8" in out[3][1].message
    assert out[4] == (5, {"d": 4})


def test_json_array_records_carry_the_line_each_element_starts_on():
    data = b'[\n  {"a": 1},\n  {\n    "b": 2\n  }\n]\n'
    assert read(data) == [(2, {"a": 1}), (3, {"b": 2})]


def test_utf8_byte_order_mark_is_accepted():
    assert read(b'\xef\xbb\xbf[{"a": 1}]') == [(1, {"a": 1})]


def test_empty_array_and_empty_file_hold_no_records():
    assert read(b"[]") == []
    assert read(b"") == []


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        (b'[\n{"a": 1},\n{"b": 2', 3, "truncated JSON"),
        (b'[\n{"a": 1}\n', 3, "never closed"),
        (b'[\n{"a": 1},\n]', 3, "comma before ]"),
        (b'[\n{"a": 1} {"b": 2}]', 2, "expected , or ]"),
        (b'[\n{"a": 1},\n{"b": "\xff"}]', 3, "not valid UTF-8"),
    ],
)
def test_json_array_errors_name_the_line(data, line, fragment):
    errors = [record for _, record in read(data) if isinstance(record, RecordError)]
    assert len(errors) == 1
    assert errors[0].line == line
    assert fragment in errors[0].message


def test_array_larger_than_the_read_chunk_is_streamed(monkeypatch):
    monkeypatch.setattr(readers, "_CHUNK", 64)
    items = [{"id": i, "text": "x" * (i % 50)} for i in range(300)]
    data = ("[\n" + ",\n".join(json.dumps(item) for item in items) + "\n]").encode()
    out = read(data)
    assert [record for _, record in out] == items
    assert [line for line, _ in out] == list(range(2, 302))


def test_jsonl_larger_than_the_read_chunk_is_streamed(monkeypatch):
    monkeypatch.setattr(readers, "_CHUNK", 16)
    items = [{"id": i, "text": "é" * (i % 40)} for i in range(200)]
    data = "\n".join(json.dumps(item, ensure_ascii=False) for item in items).encode()
    assert [record for _, record in read(data)] == items


def test_error_text_names_line_and_field():
    assert str(RecordError(7, "responses[1]", "must not be empty")) == "line 7, field responses[1]: must not be empty"


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        (b'[{"a": 1}]\n[{"b": 2}]', 2, "more content after the closing ]"),
        (b'[{"a": 1}] junk', 1, "more content after the closing ]"),
        (b'[{"a": NaN}]', 1, "NaN is not a JSON value"),
        (b'{"a": Infinity}', 1, "Infinity is not a JSON value"),
        (b"[" * 5000, 1, "nested too deeply"),
        (b'{"a": ' + b"[" * 5000 + b"}", 1, "nested too deeply"),
        (b'{\n  "a": 1\n}\n', 1, "one JSON object spread over lines"),
    ],
)
def test_more_malformed_inputs_get_one_clear_error(data, line, fragment):
    errors = [record for _, record in read(data) if isinstance(record, RecordError)]
    assert len(errors) == 1
    assert errors[0].line == line
    assert fragment in errors[0].message


def test_a_syntax_error_inside_a_json_array_names_its_own_line_without_reading_on(monkeypatch):
    monkeypatch.setattr(readers, "_CHUNK", 32)
    items = [json.dumps({"id": i, "text": "x"}) for i in range(50)]
    items[30] = '{"id": 30,, "text": "x"}'
    out = read(("[\n" + ",\n".join(items) + "\n]").encode())
    assert len(out) == 31
    assert out[-1][0] == 32
    assert "invalid JSON" in out[-1][1].message


def test_crlf_line_endings_are_read():
    assert read(b'{"a": 1}\r\n{"b": 2}\r\n') == [(1, {"a": 1}), (2, {"b": 2})]


def test_multibyte_characters_split_across_chunks(monkeypatch):
    monkeypatch.setattr(readers, "_CHUNK", 7)
    items = [{"text": "日本語のテキスト" * 3}, {"text": "émoji 🎉"}]
    as_array = json.dumps(items, ensure_ascii=False).encode()
    as_lines = "\n".join(json.dumps(item, ensure_ascii=False) for item in items).encode()
    assert [record for _, record in read(as_array)] == items
    assert [record for _, record in read(as_lines)] == items


def test_lines_longer_than_the_item_cap_are_refused_and_reading_goes_on(monkeypatch):
    monkeypatch.setattr(readers, "_CHUNK", 64)
    monkeypatch.setattr(readers, "_MAX_ITEM_BYTES", 200)
    out = read(b'{"a": "' + b"x" * 1000 + b'"}\n{"b": 2}\n')
    assert out[0][0] == 1
    assert "longer than 200 bytes" in out[0][1].message
    assert out[1] == (2, {"b": 2})


def test_a_truncated_string_names_its_column_once():
    _, (line, error) = read_records(io.BytesIO(b'{"a": 1}\n{"id": "broken", "prompt": "no closing\n'))
    assert line == 2
    assert isinstance(error, RecordError)
    assert error.message == "truncated JSON (unterminated string starting at column 28)"
