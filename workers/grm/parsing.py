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


def _section_span(text: str, start: str, ends: tuple[str, ...]) -> tuple[int, int] | None:
    """Where a section is: from its heading `start` to the earliest of `ends` after it (or the end);
    None if `start` is absent."""
    begin = text.find(start)
    if begin < 0:
        return None
    stops = [stop for stop in (text.find(end, begin + len(start)) for end in ends) if stop >= 0]
    return begin, min(stops, default=len(text))


def _section(text: str, start: str, ends: tuple[str, ...]) -> str | None:
    """Text after `start` up to the earliest of `ends` (or the end); None if `start` is absent."""
    span = _section_span(text, start, ends)
    return None if span is None else text[span[0] + len(start) : span[1]].strip()


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


# What a forced continuation appends to the model's own text (workers/backends: force_scores).
FORCED_SUFFIX = "\nScores: \\boxed{"


@dataclass(frozen=True)
class Part:
    """A piece of a raw output as `anatomy` cuts it: `kind` is "text" (nothing the parser read),
    "principles", "critique" or "scores" (what it read there: the heading's section, the score box it
    used), or a marker with no text of its own: "gave_up" (where and why parsing failed, in `note`)
    and "forced" (where the model's own text ends and the forced scores begin)."""

    kind: str
    text: str = ""
    note: str = ""


def anatomy(text: str, n: int, *, low: int = 1, high: int = 10, forced: bool = False) -> list[Part]:
    """The raw output cut into what `parse_judgment` found in it, in order, every character once, with
    markers where parsing gave up (a missing heading, no score box, a box it could not use) and where
    forced scores begin. Joining the parts' texts gives `text` back."""
    labels = ["text"] * len(text)
    markers: dict[int, list[Part]] = {}

    def mark(at: int, part: Part) -> None:
        markers.setdefault(at, []).append(part)

    for kind, heading, ends, empty in (
        ("principles", _PRINCIPLES, (_CRITIQUE, _SCORES), "the principles are empty"),
        ("critique", _CRITIQUE, (_SCORES,), "the critique is empty"),
    ):
        span = _section_span(text, heading, ends)
        if span is None:
            mark(0, Part("gave_up", note=f"no “{heading}” heading: {empty}"))
        else:
            labels[span[0] : span[1]] = [kind] * (span[1] - span[0])
    box = max(_SCORE_BOX.finditer(text), key=lambda match: match.start(), default=None)  # the last, as parsed
    _scores, status = parse_scores(text, n, low=low, high=high)
    if box is None:
        mark(len(text), Part("gave_up", note="no \\boxed{…} or [[…]] with the scores: parsing gave up at the end"))
    else:  # the score line: from its heading, when one comes before the box, to the box's end
        line = text.rfind(_SCORES, 0, box.start())
        line = line if line >= 0 and "\n" not in text[line : box.start()] else box.start()
        labels[line : box.end()] = ["scores"] * (box.end() - line)
        problem = {
            ParseStatus.WRONG_COUNT: f"the last score box does not hold {n} comma-separated scores",
            ParseStatus.NOT_INTEGER: "the last score box holds something other than whole numbers",
            ParseStatus.OUT_OF_RANGE: f"a score in the last box is outside {low} to {high}",
        }.get(status)
        if problem:
            mark(box.end(), Part("gave_up", note=problem))
    if forced:
        own_end = text.rfind(FORCED_SUFFIX)
        if own_end >= 0:
            mark(own_end, Part("forced", note="the model's own text ends here; the scores after it were forced"))

    parts: list[Part] = []
    begin = 0
    for at in sorted({0, len(text), *markers, *(i for i in range(1, len(text)) if labels[i] != labels[i - 1])}):
        if at > begin:
            parts.append(Part(labels[begin], text[begin:at]))
            begin = at
        parts.extend(markers.get(at, []))
    return parts
