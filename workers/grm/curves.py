"""Accuracy as k grows: the expected accuracy of Voting@k and MetaRM@k over size-k subsets of the
samples stored per query (exact when the subsets are few, else a seeded sample of them), vectorised.

Only queries with n >= 2 responses and a labelled best take part. A tie is credited with the chance
that the random tie-break picks the labelled best (1 / number tied); a subset with no valid sample
scores 0, as its vote chooses nothing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class QuerySamples:
    """One query's K stored samples: scores (K x n, original order; rows of invalid samples ignored)."""

    scores: Sequence[Sequence[int] | None]
    best_index: int
    meta_scores: Sequence[float | None] | None = None


def default_ks(max_k: int) -> list[int]:
    """1, 2, 4, ... up to max_k, and max_k itself."""
    ks = [1 << i for i in range(max_k.bit_length()) if 1 << i <= max_k]
    if ks and ks[-1] != max_k:
        ks.append(max_k)
    return ks


def _subsets(total: int, k: int, *, max_subsets: int, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    """Indicator rows (M x total) of size-k subsets: all of them if at most max_subsets, else a sample."""
    if math.comb(total, k) <= max_subsets:
        combos = list(itertools.combinations(range(total), k))
        rows = np.zeros((len(combos), total), dtype=bool)
        rows[np.repeat(np.arange(len(combos)), k), np.array(combos).ravel()] = True
        return rows
    keys = rng.random((max_subsets, total))
    chosen = np.argsort(keys, axis=1)[:, :k]
    rows = np.zeros((max_subsets, total), dtype=bool)
    np.put_along_axis(rows, chosen, True, axis=1)
    return rows


def _credit(totals: npt.NDArray[np.float64], voters: npt.NDArray[np.int_], best: int) -> float:
    top = totals.max(axis=1, keepdims=True)
    tied = totals == top
    credit = tied[:, best] / tied.sum(axis=1)
    credit[voters == 0] = 0.0
    return float(credit.mean())


def query_accuracy(
    sample_set: QuerySamples, k: int, *, meta: bool, max_subsets: int, rng: np.random.Generator
) -> float:
    valid = np.array([row is not None for row in sample_set.scores])
    if not valid.any():
        return 0.0  # no subset holds a valid sample: the vote chooses nothing
    n = len(next(row for row in sample_set.scores if row is not None))
    scores = np.array([row if row is not None else [0] * n for row in sample_set.scores], dtype=float)
    subsets = _subsets(len(scores), k, max_subsets=max_subsets, rng=rng)
    chosen = subsets & valid
    if meta:
        meta_values = np.array(
            [value if value is not None else -np.inf for value in (sample_set.meta_scores or [None] * len(scores))]
        )
        ranked = np.where(chosen, meta_values, -np.inf)
        ranked = np.where(chosen & np.isneginf(ranked), -np.finfo(float).max, ranked)
        keep = max(1, k // 2)
        order = np.argsort(-ranked, axis=1, kind="stable")[:, :keep]
        top = np.zeros_like(chosen)
        np.put_along_axis(top, order, True, axis=1)
        chosen = top & chosen
    totals = chosen.astype(float) @ scores
    return _credit(totals, chosen.sum(axis=1), sample_set.best_index)


def accuracy_curve(
    queries: Sequence[QuerySamples],
    *,
    ks: Sequence[int] | None = None,
    meta: bool = False,
    max_subsets: int = 512,
    seed: int = 0,
) -> dict[int, float]:
    """Mean over queries of the expected Voting@k (or MetaRM@k) accuracy, for each k."""
    if not queries:
        return {}
    stored = min(len(query.scores) for query in queries)
    rng = np.random.default_rng(seed)
    curve: dict[int, float] = {}
    for k in ks or default_ks(stored):
        if not 1 <= k <= stored:
            raise ValueError(f"k={k} is outside 1..{stored}, the samples stored per query")
        curve[k] = float(np.mean([query_accuracy(q, k, meta=meta, max_subsets=max_subsets, rng=rng) for q in queries]))
    return curve
