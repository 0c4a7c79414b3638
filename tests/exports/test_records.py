"""The rows' fast paths state the same thing as the plain definitions: a trajectory's JSON line is
`dumps(row)` and its id `content_id(kind, row)`, whatever the texts hold."""

from __future__ import annotations

import pytest

from reviews.exports.records import (
    Prompts,
    QueryText,
    RunInfo,
    SampleRow,
    content_id,
    dumps,
    trajectory,
)
from workers.grm.templates import BUILT_IN_TEMPLATES

TRICKY = 'Quotes " and \\ backslashes, a tab\t, a newline\n, unicode é ∑ 😀, and </script> and \x01'


def query(text: str) -> QueryText:
    return QueryText(
        external_id="q-1",
        dataset="data",
        subset="chat",
        context=[{"role": "user", "content": text}],
        responses=[f"One: {text}", "Two."],
        best_index=0,
        rating=None,
        content_hash="ab" * 32,
    )


def sample(raw: str, index: int, permutation: list[int]) -> SampleRow:
    return SampleRow(
        id=index,
        run_id=3,
        query_id=1,
        sample_index=index,
        permutation=permutation,
        raw_text=raw,
        principles="",
        critique="",
        hinted=index == 1,
        correct=False,
        parsed=True,
        decision="reject",
        reason="incorrect",
        source="rule",
        failure_modes=["a", "b"] if index else [],
        notes=[TRICKY] if index else [],
    )


@pytest.mark.parametrize("kind", ["rft_sft", "rejected"])
def test_a_trajectorys_line_and_id_are_the_plain_ones(kind):
    template = BUILT_IN_TEMPLATES[0]
    run = RunInfo(template_text=template.text, template="t v1", model="m")
    prompts = Prompts()
    for index, permutation in enumerate([[0, 1], [1, 0], [0, 1]]):
        row, line = trajectory(kind, query(TRICKY), run, sample(f"{TRICKY} {index}", index, permutation), prompts)
        assert line == dumps(row)
        assert row["id"] == content_id(kind, {**row, "id": ""})
        assert row["messages"][0]["content"] == row["input"]
