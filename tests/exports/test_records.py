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
        external_id=f"q-1 {text}",
        dataset=f"data {text}",
        subset=f"chat {text}",
        context=[{"role": "user", "content": text}],
        responses=[f"One: {text}", "Two."],
        best_index=0,
        rating=None,
        content_hash="ab" * 32,
    )


def sample(raw: str, index: int, permutation: list[int], run_id: int = 3) -> SampleRow:
    return SampleRow(
        id=index,
        run_id=run_id,
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
    runs = {
        3: RunInfo(template_text=BUILT_IN_TEMPLATES[0].text, template=f"t v1 {TRICKY}", model=f"m {TRICKY}"),
        4: RunInfo(template_text=BUILT_IN_TEMPLATES[1].text, template="t2 v1", model="m2"),
    }
    prompts = Prompts()  # shared, as a build shares it: what it caches must not leak between runs or queries
    cases = [(TRICKY, 3, [0, 1]), (TRICKY, 4, [0, 1]), (TRICKY, 3, [1, 0]), (TRICKY, 3, [0, 1]), ("other", 3, [0, 1])]
    for index, (text, run_id, permutation) in enumerate(cases):
        the_sample = sample(f"{TRICKY} {index}", index, permutation, run_id)
        row, line = trajectory(kind, query(text), runs[run_id], the_sample, prompts)
        assert line == dumps(row).encode()
        assert row["id"] == content_id(kind, {**row, "id": ""})
        assert (row["run_id"], row["template"], row["query_id"]) == (run_id, runs[run_id].template, f"q-1 {text}")
        assert row["completion"] == [{"role": "assistant", "content": the_sample.raw_text}]
