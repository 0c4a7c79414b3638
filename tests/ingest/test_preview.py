"""The upload page's preview: the head of a file read by the importer's own reader and normalizer."""

from __future__ import annotations

import json

from reviews.ingest.formats import guess_format
from reviews.ingest.preview import preview


def lines(*records: object) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


LLMBAR = {"id": "a", "instruction": "Say hi", "output_1": "hi", "output_2": "no", "label": 1}


def test_a_head_cut_inside_a_line_previews_the_whole_lines_only():
    head = lines(LLMBAR, {**LLMBAR, "id": "b"}) + b'{"id": "c", "instr'
    shown = preview(head, complete=False, fmt="llmbar", field_map={"instruction": "input"})
    assert [row.line for row in shown.rows] == [1, 2]
    assert [row.item.external_id for row in shown.rows if row.item] == ["a", "b"]
    first = shown.rows[0].item
    assert first is not None
    assert first.prompt == "Say hi"
    assert first.best_index == 0
    assert shown.partial_head


def test_the_same_cut_head_read_as_the_whole_file_reports_the_truncated_line():
    head = lines(LLMBAR) + b'{"id": "c", "instr'
    shown = preview(head, complete=True, fmt="llmbar", field_map={"instruction": "input"})
    assert shown.rows[1].line == 2
    assert shown.rows[1].item is None
    assert "truncated JSON" in shown.rows[1].errors[0][1]


def test_bad_items_name_their_fields_and_good_ones_are_normalized():
    head = lines({"prompt": "q", "responses": ["a", "b"], "best": 1}, {"prompt": "q", "responses": ["a"], "best": 3})
    shown = preview(head, complete=True, fmt="native", subset="chat")
    good, bad = shown.rows
    assert good.item is not None
    assert good.item.subset == "chat"
    assert good.item.best_index == 1
    assert bad.item is None
    assert ("best", "is 3 but there are 1 responses (0-based index)") in bad.errors


def test_fields_the_format_does_not_read_are_listed_as_ignored_until_renamed():
    shown = preview(lines(LLMBAR), complete=True, fmt="llmbar")
    assert shown.fields == ["id", "instruction", "output_1", "output_2", "label"]
    assert shown.ignored_fields == ["instruction"]
    assert shown.rows[0].errors == [("input", "is required")]
    renamed = preview(lines(LLMBAR), complete=True, fmt="llmbar", field_map={"instruction": "input"})
    assert renamed.ignored_fields == []
    assert ("instruction", "input", True) in renamed.field_rows


def test_the_format_the_items_look_like_is_guessed():
    assert preview(lines(LLMBAR), complete=True, fmt="native").guessed_format == "llmbar"
    assert guess_format(["prompt", "chosen", "rejected"]) == "preference"
    assert guess_format(["context", "responses", "best"]) == "native"
    assert guess_format(["prompt", "response", "rating"]) == "single"
    assert guess_format(["question", "answer"]) is None


def test_a_json_array_cut_inside_an_item_previews_the_items_before_it():
    head = b'[{"prompt": "a", "chosen": "b", "rejected": "c"},\n {"prompt": "d", "cho'
    shown = preview(head, complete=False, fmt="preference")
    assert len(shown.rows) == 1
    assert shown.rows[0].item is not None
    assert preview(head, complete=True, fmt="preference").rows[-1].item is None  # the whole file: it is cut


def test_at_most_the_asked_number_of_items_is_read():
    head = lines(*({**LLMBAR, "id": str(i), "input": "q"} for i in range(20)))
    assert len(preview(head, complete=True, fmt="llmbar", items=5).rows) == 5


def test_a_head_without_any_item_gives_no_rows():
    assert preview(b"", complete=True, fmt="native").rows == []
    assert preview(b'{"prompt": "long', complete=False, fmt="native").rows == []
