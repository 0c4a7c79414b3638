"""What each release kind's rows hold (docs/exports.md): the columns trainers read, in a fixed order,
built from plain values. No Django here: `reviews.services.releases` reads the rows and writes the files.

Conversational columns are lists of {"role", "content"} messages, as TRL and OpenRLHF (with
`--apply_chat_template`) read them. A sample's prompt is the GRM prompt as the run showed it (its
permutation), without the hint line: a hinted sample teaches the model to reach the right judgment from
the plain prompt, and stays marked `hinted`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.grm.prompts import Message, build_prompt, meta_rm_input, sample_permutation

KINDS = ("rft_sft", "rejected", "metarm", "pairs", "rl_prompts")

# Column name -> type, in file order. "chat" is a list of {role, content}. No column is ever null or an
# empty list: `datasets.load_dataset("json")` takes every split's types from the first 10 MB of train,
# where an all-null column becomes type null and a later value fails the whole load ("Couldn't cast").
_SAMPLE_META = {
    "id": "string",
    "query_id": "string",
    "dataset": "string",
    "subset": "string",
    "run_id": "int",
    "sample_index": "int",
    "hinted": "bool",
    "template": "string",
    "model": "string",
    "source": "string",
}
COLUMNS: dict[str, dict[str, str]] = {
    "rft_sft": {"messages": "chat", "input": "string", "output": "string", **_SAMPLE_META},
    "rejected": {
        "messages": "chat",
        "input": "string",
        "output": "string",
        **_SAMPLE_META,
        "reason": "string",
        "failure_modes": "string",
        "notes": "string",
    },
    "metarm": {"prompt": "chat", "completion": "chat", "label": "bool", **_SAMPLE_META},
    "pairs": {
        "prompt": "chat",
        "chosen": "chat",
        "rejected": "chat",
        "id": "string",
        "query_id": "string",
        "dataset": "string",
        "subset": "string",
        "run_id": "int",
        "template": "string",
        "model": "string",
        "chosen_sample_index": "int",
        "rejected_sample_index": "int",
        "chosen_hinted": "bool",
        "rejected_hinted": "bool",
    },
    "rl_prompts": {
        "prompt": "chat",
        "label": "string",
        "best_index": "int",
        "rating": "int",
        "n_responses": "int",
        "id": "string",
        "query_id": "string",
        "dataset": "string",
        "subset": "string",
        "template": "string",
    },
}
# The columns a row's content hash covers: what a trainer sees. Two rows equal there are duplicates.
CONTENT: dict[str, tuple[str, ...]] = {
    "rft_sft": ("messages",),
    "rejected": ("messages", "reason", "failure_modes", "notes"),  # what people said is part of the row
    "metarm": ("prompt", "completion", "label"),
    "pairs": ("prompt", "chosen", "rejected"),
    "rl_prompts": ("prompt", "label"),
}
# The column a release counts its rows by ("counts per subset and label").
LABEL_COLUMN = {"rft_sft": "source", "rejected": "reason", "metarm": "label", "pairs": None, "rl_prompts": "label"}


@dataclass(frozen=True)
class QueryText:
    """A query as the prompts need it."""

    external_id: str
    dataset: str
    subset: str
    context: list[Message]
    responses: list[str]
    best_index: int | None
    rating: int | None
    content_hash: str


@dataclass(frozen=True)
class RunInfo:
    template_text: str
    template: str  # "name vN"
    model: str


@dataclass(frozen=True)
class SampleRow:
    """One stored sample with its decision (GRM_SPEC 6, issue 11), as the exporter reads it."""

    id: int
    run_id: int
    query_id: int
    sample_index: int
    permutation: list[int]
    raw_text: str
    principles: str
    critique: str
    hinted: bool
    correct: bool | None
    parsed: bool
    decision: str
    reason: str
    source: str
    failure_modes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    accepts: int = 0  # reviewers' accepts and rejects of the sample (read for metarm and rejected rows)
    rejects: int = 0


def content_id(kind: str, row: dict[str, Any]) -> str:
    """sha256 of what a trainer reads from the row (CONTENT), canonical JSON."""
    content = [row[name] for name in CONTENT[kind]]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def validation_side(query: QueryText, *, seed: int, fraction: float) -> bool:
    """Whether the query's rows go to validation: a seeded hash of the query's content, so every row of
    a query (and of the same query uploaded twice) lands on the same side."""
    digest = hashlib.sha256(f"{seed}:{query.content_hash}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _grm_prompt(run: RunInfo, query: QueryText, permutation: Sequence[int]) -> str:
    prompt = build_prompt(run.template_text, context=query.context, responses=query.responses, permutation=permutation)
    return prompt.messages[0]["content"]


def _meta(query: QueryText, run_id: int, run: RunInfo, sample: SampleRow, source: str) -> dict[str, Any]:
    return {
        "id": "",
        "query_id": query.external_id,
        "dataset": query.dataset,
        "subset": query.subset,
        "run_id": run_id,
        "sample_index": sample.sample_index,
        "hinted": sample.hinted,
        "template": run.template,
        "model": run.model,
        "source": source,
    }


def _finish(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    row["id"] = content_id(kind, row)
    return {name: row[name] for name in COLUMNS[kind]}


def dumps(value: Any) -> str:
    """A value as a release's JSON Lines file writes it: no ASCII escaping, no spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Prompt:
    """A GRM prompt rendered once for the samples that share it, with its JSON and the start of the
    content hash of a trajectory row made from it (`content_id`'s canonical form up to the output)."""

    text: str
    json: str
    hash_start: Any  # a hashlib sha256 object, copied for each row


class Prompts:
    """The prompts of the query being exported: its samples come together, so the cache holds one
    query's few shown orders and empties when the next query starts (memory stays flat)."""

    def __init__(self) -> None:
        self._query: tuple[str, str] = ("", "")
        self._prompts: dict[tuple[str, tuple[int, ...]], Prompt] = {}

    def get(self, run: RunInfo, query: QueryText, permutation: Sequence[int]) -> Prompt:
        if (query.dataset, query.external_id) != self._query:
            self._query, self._prompts = (query.dataset, query.external_id), {}
        key = (run.template_text, tuple(permutation))
        prompt = self._prompts.get(key)
        if prompt is None:
            text = _grm_prompt(run, query, permutation)
            escaped = json.dumps(text, ensure_ascii=False)
            start = hashlib.sha256(f'[[{{"content": {escaped}, "role": "user"}}, {{"content": '.encode())
            prompt = self._prompts[key] = Prompt(text, escaped, start)
        return prompt


def trajectory(
    kind: str, query: QueryText, run: RunInfo, sample: SampleRow, prompts: Prompts | None = None
) -> tuple[dict[str, Any], str]:
    """An `rft_sft` or `rejected` row, the GRM prompt and the sample's whole output, with its JSON line.

    The prompt and the output each appear twice in the row (`messages`, and `input`/`output`): they
    are escaped once, and the line is put together from the pieces, equal to `dumps(row)` (a test
    holds the two together), as the content hash equals `content_id(kind, row)`.
    """
    prompt = (prompts or Prompts()).get(run, query, sample.permutation)
    output = json.dumps(sample.raw_text, ensure_ascii=False)
    digest = prompt.hash_start.copy()
    digest.update(f'{output}, "role": "assistant"}}]'.encode())
    extra: dict[str, Any] = {}
    if kind == "rejected":  # codes comma-separated, notes one per paragraph; "" when none
        extra = {
            "reason": sample.reason,
            "failure_modes": ",".join(sample.failure_modes),
            "notes": "\n\n".join(sample.notes),
        }
        for name in CONTENT[kind][1:]:
            digest.update(f", {json.dumps(extra[name], ensure_ascii=False, sort_keys=True)}".encode())
    digest.update(b"]")
    meta = _meta(query, sample.run_id, run, sample, sample.source) | extra
    meta["id"] = digest.hexdigest()
    row: dict[str, Any] = {
        "messages": [{"role": "user", "content": prompt.text}, {"role": "assistant", "content": sample.raw_text}],
        "input": prompt.text,
        "output": sample.raw_text,
        **meta,
    }
    line = (
        f'{{"messages":[{{"role":"user","content":{prompt.json}}},{{"role":"assistant","content":{output}}}],'
        f'"input":{prompt.json},"output":{output},{dumps(meta)[1:]}'
    )
    return row, line


def metarm_label(sample: SampleRow) -> bool | None:
    """The meta RM's label of a judgment (the rule `reviews.selectors.metarm._labelled` applies to runs):
    an admin's adjudication decides; else a reviewer's reject is False and a reviewer's accept True (the
    meta RM learns whether a judgment is right, so an accept needs no note here, unlike a rescue into
    RFT data); otherwise Eq. 10. None when there is none of these (an unlabelled query nobody reviewed)."""
    if sample.source == "adjudication":
        return sample.decision == "accept"
    if sample.rejects:
        return False
    if sample.accepts:
        return True
    return sample.correct


def _label_source(sample: SampleRow) -> str:
    if sample.source == "adjudication":
        return "adjudication"
    return "reviewer" if sample.rejects or sample.accepts else "rule"


def metarm(query: QueryText, run: RunInfo, sample: SampleRow) -> dict[str, Any] | None:
    """A `metarm` row (TRL's unpaired preference format): the meta RM's input and the judgment's label."""
    label = metarm_label(sample)
    if label is None or not sample.parsed:
        return None
    user, assistant = meta_rm_input(
        context=query.context,
        responses=query.responses,
        permutation=sample.permutation,
        principles=sample.principles,
        critique=sample.critique,
    )
    meta = _meta(query, sample.run_id, run, sample, _label_source(sample))
    row = {"prompt": [user], "completion": [assistant], "label": label, **meta}
    return _finish("metarm", row)


def pairs(query: QueryText, run: RunInfo, samples: Sequence[SampleRow]) -> Iterator[dict[str, Any]]:
    """`pairs` rows for one query in one run: accepted against rejected judgments made from the same
    prompt (the same shown order), matched in sample order, each judgment used once."""
    by_prompt: dict[tuple[int, ...], tuple[list[SampleRow], list[SampleRow]]] = {}
    for sample in samples:
        accepted, rejected = by_prompt.setdefault(tuple(sample.permutation), ([], []))
        if sample.decision == "accept":
            accepted.append(sample)
        elif sample.decision == "reject":
            rejected.append(sample)
    for permutation, (accepted, rejected) in by_prompt.items():
        if not accepted or not rejected:
            continue
        prompt = [{"role": "user", "content": _grm_prompt(run, query, permutation)}]
        for chosen, other in zip(accepted, rejected, strict=False):
            row = {
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": chosen.raw_text}],
                "rejected": [{"role": "assistant", "content": other.raw_text}],
                "id": "",
                "query_id": query.external_id,
                "dataset": query.dataset,
                "subset": query.subset,
                "run_id": chosen.run_id,
                "template": run.template,
                "model": run.model,
                "chosen_sample_index": chosen.sample_index,
                "rejected_sample_index": other.sample_index,
                "chosen_hinted": chosen.hinted,
                "rejected_hinted": other.hinted,
            }
            yield _finish("pairs", row)


def rl_prompt(query: QueryText, run: RunInfo, *, seed: int) -> dict[str, Any] | None:
    """An `rl_prompts` row: the GRM prompt with the responses in a seeded order, and the ground truth
    in that order (`label`: the 1-based number of the best response as the prompt shows it, or the
    rating of a single response; `best_index` and `rating` are -1 where they do not apply). None for an
    unlabelled query."""
    if query.best_index is None and query.rating is None:
        return None
    permutation = sample_permutation(len(query.responses), seed=seed, query_key=query.content_hash, sample_index=0)
    best = permutation.index(query.best_index) if query.best_index is not None else None
    row = {
        "prompt": [{"role": "user", "content": _grm_prompt(run, query, permutation)}],
        "label": str(best + 1) if best is not None else str(query.rating),
        "best_index": best if best is not None else -1,
        "rating": query.rating if best is None and query.rating is not None else -1,
        "n_responses": len(query.responses),
        "id": "",
        "query_id": query.external_id,
        "dataset": query.dataset,
        "subset": query.subset,
        "template": run.template,
    }
    return _finish("rl_prompts", row)
