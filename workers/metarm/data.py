"""The meta RM's examples: one judgment's input messages with its correctness label, the train/validation
split by query, the class weight, and the text the model reads (the chat template, cut on the left to fit)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Message = dict[str, str]

# How many further seeded shuffles to try when the first leaves one side with a single class.
_SPLIT_ATTEMPTS = 32
# Stands in for the user turn while rendering the chat template, to find where that turn's text sits.
_SENTINEL = "METARMUSERTURN0x5f3759df"


@dataclass(frozen=True)
class MetaExample:
    """One sampled judgment: `group` is its query's key (never on both sides of the split), `messages`
    the meta-RM input (`workers.grm.prompts.meta_rm_input`), `label` 1 correct, 0 incorrect, None unknown."""

    group: str
    messages: list[Message]
    label: int | None


@dataclass(frozen=True)
class Split:
    train: list[MetaExample]
    validation: list[MetaExample]


def labelled(examples: Sequence[MetaExample]) -> list[MetaExample]:
    """The examples with a 0/1 label; refuses any other label value."""
    kept = [example for example in examples if example.label is not None]
    bad = sorted({example.label for example in kept} - {0, 1}, key=str)
    if bad:
        raise ValueError(f"labels must be 0, 1 or None, got {bad}")
    return kept


def split_by_group(examples: Sequence[MetaExample], *, validation_fraction: float = 0.2, seed: int = 0) -> Split:
    """A seeded split of labelled examples by group: no query on both sides, at least one group on each.

    About `validation_fraction` of the groups go to validation. If that seeded shuffle leaves a side
    with one class only, further shuffles from the same seed are tried before refusing.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    examples = labelled(examples)
    groups = sorted({example.group for example in examples})
    if len(groups) < 2:
        raise ValueError(
            f"the meta RM needs labelled judgments of at least 2 queries to split train from validation, "
            f"got {len(groups)}"
        )
    counts = _class_counts(examples)
    if counts[0] == 0 or counts[1] == 0:
        raise ValueError(
            f"the labelled judgments hold {counts[1]} correct and {counts[0]} incorrect: the meta RM needs both classes"
        )
    size = min(max(1, round(validation_fraction * len(groups))), len(groups) - 1)
    rng = random.Random(seed)  # noqa: S311 -- a reproducible split, not security
    problem = ""
    for _ in range(_SPLIT_ATTEMPTS):
        order = groups[:]
        rng.shuffle(order)
        held_out = set(order[:size])
        split = Split(
            train=[example for example in examples if example.group not in held_out],
            validation=[example for example in examples if example.group in held_out],
        )
        problem = _one_class_side(split)
        if not problem:
            return split
    raise ValueError(
        f"cannot split {len(groups)} queries so that both sides hold correct and incorrect judgments ({problem}); "
        "label more queries"
    )


def positive_weight(labels: Sequence[int]) -> float:
    """BCE `pos_weight`: negatives / positives, so the rarer class weighs as much as the other."""
    positives = sum(1 for label in labels if label == 1)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError(f"need both classes to weight them, got {positives} correct and {negatives} incorrect")
    return negatives / positives


def _class_counts(examples: Sequence[MetaExample]) -> dict[int, int]:
    positives = sum(1 for example in examples if example.label == 1)
    return {1: positives, 0: len(examples) - positives}


def _one_class_side(split: Split) -> str:
    for name, side in (("train", split.train), ("validation", split.validation)):
        counts = _class_counts(side)
        if counts[0] == 0 or counts[1] == 0:
            return f"the {name} side has {counts[1]} correct and {counts[0]} incorrect"
    return ""


def encode(tokenizer: Any, messages: Sequence[Message], *, max_length: int) -> list[int]:
    """Token ids of the chat template applied to the messages (no generation prompt), at most max_length.

    When too long, the start of the last user turn (context and responses) is dropped so the judgment
    (the assistant turn) is kept whole; if even that cannot fit, the sequence's last max_length tokens.
    """
    messages = list(messages)
    ids = _tokens(tokenizer, _render(tokenizer, messages))
    if len(ids) <= max_length:
        return ids
    users = [index for index, message in enumerate(messages) if message["role"] == "user"]
    if users:
        turn = users[-1]
        hollow = [*messages[:turn], {**messages[turn], "content": _SENTINEL}, *messages[turn + 1 :]]
        parts = _render(tokenizer, hollow).split(_SENTINEL)
        if len(parts) == 2:
            before, after = (_tokens(tokenizer, part) for part in parts)
            room = max_length - len(before) - len(after)
            if room > 0:
                return before + _tokens(tokenizer, messages[turn]["content"])[-room:] + after
    return ids[-max_length:]


def _render(tokenizer: Any, messages: list[Message]) -> str:
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False))


def _tokens(tokenizer: Any, text: str) -> list[int]:
    # The chat template already wrote any special tokens (BOS included) the model expects.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
