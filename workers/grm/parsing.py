"""Extracting principles, critique and scores from a GRM's free text (GRM_SPEC section 4).

The valid score range is the one the template states: 1..10 for the paper's default, 0..1 for its
single-response rating prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ParseStatus(StrEnum):
    OK = "ok"
    NO_SCORES = "no_scores"
    WRONG_COUNT = "wrong_count"
    OUT_OF_RANGE = "out_of_range"
    NOT_INTEGER = "not_integer"


@dataclass(frozen=True)
class Judgment:
    """One parsed sample. `scores` are in the order the responses were shown, or None if invalid."""

    principles: str
    critique: str
    scores: list[int] | None
    status: ParseStatus
    sections_missing: bool

    @property
    def valid(self) -> bool:
        return self.status is ParseStatus.OK


# \boxed{...} or [[...]]; the content may not itself hold the closing delimiter.
_SCORE_BOX = re.compile(r"\\boxed\{([^{}]*)\}|\[\[([^\[\]]*)\]\]")
_INTEGER = re.compile(r"[+-]?\d+")
_PRINCIPLES = "Specific Criteria:"
_CRITIQUE = "Analysis:"
_SCORES = "Scores:"


def last_score_box(text: str) -> str | None:
    """The content of the last `\\boxed{...}` or `[[...]]` in the text, whichever comes last."""
    found = None
    for match in _SCORE_BOX.finditer(text):
        found = match.group(1) if match.group(1) is not None else match.group(2)
    return found


def parse_scores(text: str, n: int, *, low: int = 1, high: int = 10) -> tuple[list[int] | None, ParseStatus]:
    """Valid only with exactly n comma-separated integers, each from `low` to `high` inclusive."""
    box = last_score_box(text)
    if box is None:
        return None, ParseStatus.NO_SCORES
    parts = [part.strip() for part in box.split(",")]
    if parts == [""] or len(parts) != n:
        return None, ParseStatus.WRONG_COUNT
    if not all(_INTEGER.fullmatch(part) for part in parts):
        return None, ParseStatus.NOT_INTEGER
    scores = [int(part) for part in parts]
    if not all(low <= score <= high for score in scores):
        return None, ParseStatus.OUT_OF_RANGE
    return scores, ParseStatus.OK


def _section(text: str, start: str, ends: tuple[str, ...]) -> str | None:
    """Text after `start` up to the earliest of `ends` (or the end); None if `start` is absent."""
    begin = text.find(start)
    if begin < 0:
        return None
    begin += len(start)
    stops = [stop for stop in (text.find(end, begin) for end in ends) if stop >= 0]
    return text[begin : min(stops, default=len(text))].strip()


def parse_judgment(text: str, n: int, *, low: int = 1, high: int = 10) -> Judgment:
    """Principles (after `Specific Criteria:` up to `Analysis:`), critique (up to `Scores:`), scores."""
    principles = _section(text, _PRINCIPLES, (_CRITIQUE, _SCORES))
    critique = _section(text, _CRITIQUE, (_SCORES,))
    scores, status = parse_scores(text, n, low=low, high=high)
    return Judgment(
        principles=principles or "",
        critique=critique or "",
        scores=scores,
        status=status,
        sections_missing=principles is None or critique is None,
    )
