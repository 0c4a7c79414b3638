"""Aggregating samples: Voting@k and MetaRM@k with a seeded random tie-break (GRM_SPEC section 5), the
one definition of which response a sample ranked first (`top_choice`) and of the rating Voting@k
gives a single response (`voted_rating`)."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Vote:
    """Summed scores in original order, the chosen best, and whether a tie had to be broken."""

    totals: list[int]
    best_index: int | None
    tie_broken: bool
    voters: int


def tied_for_top(scores: Sequence[int]) -> list[int]:
    """The indices that share the highest score (one index when the top is unique; none for no scores)."""
    if not scores:
        return []
    top = max(scores)
    return [i for i, score in enumerate(scores) if score == top]


def top_choice(scores: Sequence[int] | None) -> int | None:
    """The response a sample scored highest, or None for no scores or a shared top score."""
    tied = tied_for_top(scores or [])
    return tied[0] if len(tied) == 1 else None


def break_tie(candidates: Sequence[int], *, seed: int) -> int:
    """Uniformly random among the tied candidates, reproducible from the seed (never "first wins")."""
    return random.Random(seed).choice(list(candidates))


def vote(valid_scores: Sequence[Sequence[int]], n: int, *, seed: int) -> Vote:
    """Voting@k: S*_i = sum over valid samples of S_i; best = argmax, ties broken at random."""
    totals = [0] * n
    for scores in valid_scores:
        for i, score in enumerate(scores):
            totals[i] += score
    if not valid_scores:
        return Vote(totals=totals, best_index=None, tie_broken=False, voters=0)
    tied = tied_for_top(totals)
    best = tied[0] if len(tied) == 1 else break_tie(tied, seed=seed)
    return Vote(totals=totals, best_index=best, tie_broken=len(tied) > 1, voters=len(valid_scores))


def voted_rating(result: Vote, *, seed: int) -> int | None:
    """One response (n = 1): the mean of the valid samples' scores rounded to the nearest score, a mean
    exactly halfway between two scores going to either at random (seeded, like any tie: never "up
    wins"); None without a valid sample."""
    if result.voters == 0 or len(result.totals) != 1:
        return None
    # Integer arithmetic: no float's rounding of the half.
    lower, remainder = divmod(result.totals[0], result.voters)
    if 2 * remainder == result.voters:
        return break_tie([lower, lower + 1], seed=seed)
    return lower + (2 * remainder > result.voters)


def default_k_meta(k: int) -> int:
    """The paper's default: keep half of the samples (at least one)."""
    return max(1, k // 2)


def meta_vote(
    valid_scores: Sequence[Sequence[int]], meta_scores: Sequence[float], n: int, *, k_meta: int, seed: int
) -> Vote:
    """MetaRM@k: vote over the k_meta valid samples the meta RM scores highest (ties: earlier sample)."""
    ranked = sorted(range(len(valid_scores)), key=lambda i: (-meta_scores[i], i))[:k_meta]
    return vote([valid_scores[i] for i in ranked], n, seed=seed)


def vote_entropy(valid_scores: Sequence[Sequence[int]]) -> float:
    """Disagreement between samples: entropy (bits) of which response each sample rated highest.

    A sample whose top score is shared splits its vote equally among the tied responses.
    """
    if not valid_scores:
        return 0.0
    weights: defaultdict[int, float] = defaultdict(float)
    for scores in valid_scores:
        tied = tied_for_top(scores)
        for i in tied:
            weights[i] += 1 / len(tied)
    total = sum(weights.values())
    return -sum((w / total) * math.log2(w / total) for w in weights.values() if w > 0) + 0.0
