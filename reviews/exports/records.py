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
from collections.abc import Callable, Iterator, Sequence
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
    "rft_sft": {"prompt": "chat", "completion": "chat", **_SAMPLE_META},
    "rejected": {
        "prompt": "chat",
        "completion": "chat",
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
    "rft_sft": ("prompt", "completion"),
    "rejected": ("prompt", "completion", "reason", "failure_modes", "notes"),  # what people said is part of the row
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


@dataclass(slots=True)
class SampleRow:
    """One stored sample with its decision (GRM_SPEC 6, issue 11), as the exporter reads it. Not frozen:
    a release makes one per sample, and a frozen dataclass's __init__ costs several times more."""

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


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# A string as JSON, without ASCII escaping: what json.dumps(text, ensure_ascii=False) gives, minus its
# per-call encoder (an export escapes a million outputs).
json_string: Callable[[str], str] = json.encoder.encode_basestring


def dumps(value: Any) -> str:
    """A value as a release's JSON Lines file writes it: no ASCII escaping, no spaces."""
    return _ENCODER.encode(value)


@dataclass(frozen=True)
class Prompt:
    """A GRM prompt rendered once for the samples that share it: its conversation (one list, shared by
    their rows, never changed), its JSON as a line holds it, and the start of the content hash of a
    trajectory row made from it (`content_id`'s canonical form up to the output)."""

    chat: list[Message]
    json: bytes
    hash_start: Any  # a hashlib sha256 object, copied for each row


class Prompts:
    """What the rows of the query being exported share: its prompts (a few shown orders) and the JSON of
    its columns that are the same for every sample of a run. Its samples come together, so the cache
    empties when the next query starts (memory stays flat)."""

    def __init__(self) -> None:
        self._query: tuple[str, str] = ("", "")
        self._prompts: dict[tuple[str, tuple[int, ...]], Prompt] = {}
        self._columns: dict[int, tuple[bytes, bytes]] = {}

    def _for(self, query: QueryText) -> None:
        if (query.dataset, query.external_id) != self._query:
            self._query, self._prompts, self._columns = (query.dataset, query.external_id), {}, {}

    def get(self, run: RunInfo, query: QueryText, permutation: Sequence[int]) -> Prompt:
        self._for(query)
        key = (run.template_text, tuple(permutation))
        prompt = self._prompts.get(key)
        if prompt is None:
            text = _grm_prompt(run, query, permutation)
            escaped = json_string(text)
            start = _sha256(f'[[{{"content": {escaped}, "role": "user"}}], [{{"content": '.encode())
            chat: list[Message] = [{"role": "user", "content": text}]
            prompt = self._prompts[key] = Prompt(chat, f'[{{"role":"user","content":{escaped}}}]'.encode(), start)
        return prompt

    def columns(self, query: QueryText, run_id: int, run: RunInfo) -> tuple[bytes, bytes]:
        """The JSON of a sample row's columns fixed by its query and run: `"query_id"` to `"run_id"`,
        and `"template"` with `"model"` (_meta's order)."""
        self._for(query)
        columns = self._columns.get(run_id)
        if columns is None:
            head = dumps({"query_id": query.external_id, "dataset": query.dataset, "subset": query.subset})
            tail = dumps({"template": run.template, "model": run.model})
            columns = self._columns[run_id] = (f'{head[1:-1]},"run_id":{run_id},'.encode(), tail[1:-1].encode())
        return columns


_BOOL = {True: b"true", False: b"false"}


def _sha256(data: bytes) -> Any:
    """hashlib.sha256(data), fed in pieces under 2,048 bytes: hashlib lets go of the GIL for a longer
    piece, and the build's thread then waits behind its writer threads to get it back (measured: most
    of the time the main thread spent hashing prompts was that wait)."""
    digest = hashlib.sha256()
    for start in range(0, len(data), 2000):
        digest.update(data[start : start + 2000])
    return digest


def trajectory(
    kind: str, query: QueryText, run: RunInfo, sample: SampleRow, prompts: Prompts | None = None
) -> tuple[dict[str, Any], bytes]:
    """An `rft_sft` or `rejected` row, the GRM prompt and the sample's whole output, with its JSON line.

    The line is put together from pieces escaped once (the prompt once for the samples that share it),
    equal to `dumps(row)` (a test holds the two together), as the content hash equals
    `content_id(kind, row)`.
    """
    prompts = prompts or Prompts()
    prompt = prompts.get(run, query, sample.permutation)
    head, tail = prompts.columns(query, sample.run_id, run)
    output = json_string(sample.raw_text).encode()
    digest = prompt.hash_start.copy()
    digest.update(output)
    digest.update(b', "role": "assistant"}]')
    extra: dict[str, Any] = {}
    extra_json = b""
    if kind == "rejected":  # codes comma-separated, notes one per paragraph; "" when none
        extra = {
            "reason": sample.reason,
            "failure_modes": ",".join(sample.failure_modes),
            "notes": "\n\n".join(sample.notes),
        }
        for name in CONTENT[kind][2:]:
            digest.update(f", {json.dumps(extra[name], ensure_ascii=False, sort_keys=True)}".encode())
        extra_json = b"," + dumps(extra)[1:-1].encode()
    digest.update(b"]")
    row_id = digest.hexdigest()
    meta = _meta(query, sample.run_id, run, sample, sample.source) | extra
    meta["id"] = row_id
    row: dict[str, Any] = {
        "prompt": prompt.chat,
        "completion": [{"role": "assistant", "content": sample.raw_text}],
        **meta,
    }
    line = b"".join(
        (
            b'{"prompt":',
            prompt.json,
            b',"completion":[{"role":"assistant","content":',
            output,
            b'}],"id":"',
            row_id.encode(),
            b'",',
            head,
            b'"sample_index":%d,"hinted":%s,' % (sample.sample_index, _BOOL[sample.hinted]),
            tail,
            b',"source":',
            json_string(sample.source).encode(),
            extra_json,
            b"}",
        )
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
