"""Classifier metrics over real-valued scores and 0/1 labels, pure numpy: ROC-AUC (the meta RM's
validation, single-response datasets), accuracy at a threshold and expected calibration error."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def _average_ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=float)
    sorted_values = values[order]
    # Start of each run of equal values, and the mean rank of the run.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_ranks = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mean_ranks, ends - starts)
    return ranks


def roc_auc(scores: Sequence[float], labels: Sequence[int | bool]) -> float | None:
    """The chance that a random positive scores above a random negative (ties count half): the
    Mann-Whitney statistic. None when the labels hold only one class."""
    values = np.asarray(scores, dtype=float)
    truth = np.asarray(labels, dtype=bool)
    if values.shape != truth.shape:
        raise ValueError(f"{len(values)} scores for {len(truth)} labels")
    positives = int(truth.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum = float(_average_ranks(values)[truth].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def sigmoid(logits: Sequence[float]) -> npt.NDArray[np.float64]:
    values = np.asarray(logits, dtype=float)
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * values)))  # stable for large |logit|


def accuracy(probabilities: Sequence[float], labels: Sequence[int | bool], *, threshold: float = 0.5) -> float | None:
    """Share of predictions (probability >= threshold means 1) that equal the label; None if empty."""
    if len(labels) == 0:
        return None
    predicted = np.asarray(probabilities, dtype=float) >= threshold
    return float(np.mean(predicted == np.asarray(labels, dtype=bool)))


def expected_calibration_error(
    probabilities: Sequence[float], labels: Sequence[int | bool], *, bins: int = 10
) -> float | None:
    """ECE: over equal-width probability bins, the gap between mean confidence and the share of
    positives, weighted by the bin's size. None if empty."""
    if len(labels) == 0:
        return None
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    y = np.asarray(labels, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    confidence = np.bincount(which, weights=p, minlength=bins)
    positives = np.bincount(which, weights=y, minlength=bins)
    used = counts > 0
    gaps = np.abs(confidence[used] - positives[used]) / counts[used]
    return float(np.sum(gaps * counts[used]) / len(p))
