"""Correctness of one sample (Eq. 10) and the rejective fine-tuning rules (GRM_SPEC section 6)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


def is_correct(scores: Sequence[int] | None, *, best_index: int | None, rating: int | None) -> bool | None:
    """Eq. 10. n >= 2: the labelled best scores strictly above every other (a tie is incorrect).
    n = 1: the score equals the labelled rating (a 0/1 correctness label included). None when there is no
    label; a parse failure is False.
    """
    if best_index is None and rating is None:
        return None
    if scores is None:
        return False
    if best_index is not None:
        return all(scores[best_index] > score for i, score in enumerate(scores) if i != best_index)
    return len(scores) == 1 and scores[0] == rating


class RftDecision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    TOO_EASY = "too_easy"


def rft_decisions(correct: Sequence[bool | None], *, hinted: bool = False) -> list[RftDecision]:
    """Keep or drop each of one query's samples for rejective fine-tuning.

    Non-hinted: incorrect samples are rejected; if every sample is correct the query is too easy and
    all are dropped. Hinted (one sample with the answer named): rejected if incorrect, never too easy.
    Unlabelled samples (None) cannot be judged and are rejected.
    """
    if not correct:
        return []
    if not hinted and all(value is True for value in correct):
        return [RftDecision.TOO_EASY] * len(correct)
    return [RftDecision.ACCEPT if value is True else RftDecision.REJECT for value in correct]
