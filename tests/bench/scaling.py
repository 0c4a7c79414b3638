"""The scaling report (`workers.grm.scaling.scaling_report`) against a plain Python loop.

Data: seeded synthetic judgments, 10,000 queries (GRM_BENCH_SCALING_QUERIES) x 32 samples x 2
responses, with meta scores that rank correct judgments higher (noisy), a few parse failures and
ties. The report is timed whole (stacking, every Voting@k and MetaRM@k point, Monte Carlo errors and
the 1,000-replicate bootstrap), as the median of three calls after a first one. The loop (lists and
for loops, no numpy) computes the same Voting and MetaRM values on the same subsets and must agree
with the report to 1e-9. Figures:
- scaling_report_first_call_seconds: the first call, which also starts BLAS threads and touches memory.
- scaling_report_seconds, scaling_report_loop_seconds and scaling_report_vs_loop (loop seconds over
  report seconds; the target is >= 20). When the loop would take long it runs over the first
  GRM_BENCH_SCALING_LOOP_QUERIES queries (1,000) and its time is scaled up to all of them; the
  figure's name then says so.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator, Sequence

import numpy as np

from workers.grm.scaling import ReportQuery, default_ks, scaling_report, subset_draws

QUERIES = int(os.environ.get("GRM_BENCH_SCALING_QUERIES", "10000"))
LOOP_QUERIES = int(os.environ.get("GRM_BENCH_SCALING_LOOP_QUERIES", "1000"))
SAMPLES = 32
RESPONSES = 2
MAX_SUBSETS = 512
SEED = 0
REPEATS = 3  # timed reports after the first; the median is the figure
SUBSETS = ["chat", "reasoning", "safety", "code"]


def synthetic_queries(
    count: int, *, samples: int = SAMPLES, responses: int = RESPONSES, seed: int = 0
) -> list[ReportQuery]:
    """Judgments that rank the labelled best first with a per-query chance (mean about 0.67), score
    every response alike in 5% of samples (a tie), fail to parse in 3%; meta scores are one unit higher,
    on average, for the judgments that were right, and 1% of samples have none."""
    rng = np.random.default_rng(seed)
    skill = rng.beta(4, 2, size=(count, 1))
    right = rng.random((count, samples)) < skill
    best = rng.integers(0, responses, size=count)[:, None]
    wrong_pick = (best + rng.integers(1, responses, size=(count, samples))) % responses
    winner = np.where(right, best, wrong_pick)
    top = rng.integers(5, 11, size=(count, samples))
    scores = np.clip(top[:, :, None] - rng.integers(1, 5, size=(count, samples, responses)), 1, 10)
    np.put_along_axis(scores, winner[:, :, None], top[:, :, None], axis=2)
    tied = rng.random((count, samples)) < 0.05
    scores[tied] = top[tied][:, None]
    failed = rng.random((count, samples)) < 0.03
    meta = (right & ~tied) + rng.normal(0.0, 1.0, size=(count, samples))
    unscored = rng.random((count, samples)) < 0.01
    return [
        ReportQuery(
            scores=[None if failed[q, s] else scores[q, s].tolist() for s in range(samples)],
            best_index=int(best[q, 0]),
            rating=None,
            subset=SUBSETS[q % len(SUBSETS)],
            meta_scores=[None if unscored[q, s] else float(meta[q, s]) for s in range(samples)],
        )
        for q in range(count)
    ]


def _credit(scores: Sequence[Sequence[int] | None], samples: Sequence[int], best: int) -> float:
    """Voting over these samples: 1 for the labelled best alone on top, 1/t for a t-way tie, 0 otherwise."""
    totals: list[int] | None = None
    for sample in samples:
        row = scores[sample]
        if row is None:
            continue
        if totals is None:
            totals = list(row)
        else:
            for i, score in enumerate(row):
                totals[i] += score
    if totals is None:
        return 0.0
    top = max(totals)
    if totals[best] != top:
        return 0.0
    return 1.0 / sum(1 for total in totals if total == top)


def loop_curves(
    queries: Sequence[ReportQuery], ks: Sequence[int], *, max_subsets: int = MAX_SUBSETS, seed: int = SEED
) -> dict[str, dict[int, float]]:
    """Voting@k and MetaRM@k accuracy of "best" queries, one query, subset and sample at a time."""
    draws: dict[tuple[int, int], list[list[int]]] = {}
    for stored in {len(query.scores) for query in queries}:
        for k in ks:
            if k <= stored:
                rows, _ = subset_draws(stored, k, max_subsets=max_subsets, seed=seed)
                draws[(stored, k)] = [[p for p, chosen in enumerate(row) if chosen] for row in rows.tolist()]
    sums = {"voting": dict.fromkeys(ks, 0.0), "metarm": dict.fromkeys(ks, 0.0)}
    counts = dict.fromkeys(ks, 0)
    for query in queries:
        stored = len(query.scores)
        meta = query.meta_scores or [None] * stored
        best = query.best_index or 0

        def rank(sample: int, meta: Sequence[float | None] = meta, scores=query.scores) -> tuple[bool, float, int]:
            value = meta[sample]
            unranked = value is None or scores[sample] is None
            return (unranked, 0.0 if unranked or value is None else -value, sample)

        order = sorted(range(stored), key=rank)
        for k in ks:
            if k > stored:
                continue
            keep = max(1, k // 2)
            voting = metarm = 0.0
            subsets = draws[(stored, k)]
            for positions in subsets:
                chosen = [order[p] for p in positions]
                voting += _credit(query.scores, chosen, best)
                metarm += _credit(query.scores, sorted(chosen, key=rank)[:keep], best)
            sums["voting"][k] += voting / len(subsets)
            sums["metarm"][k] += metarm / len(subsets)
            counts[k] += 1
    return {curve: {k: total / counts[k] for k, total in values.items() if counts[k]} for curve, values in sums.items()}


def _values(report: dict, curve: str) -> dict[int, float]:
    return {point["k"]: point["value"] for point in report[curve]}


def bench_scaling() -> Iterator[tuple[str, float | int | str]]:
    queries = synthetic_queries(QUERIES)
    ks = default_ks(SAMPLES)
    yield "scaling_report_queries", len(queries)
    times = []
    for _ in range(1 + REPEATS):
        started = time.perf_counter()
        report = scaling_report(queries, max_subsets=MAX_SUBSETS, seed=SEED)
        times.append(time.perf_counter() - started)
    # The first call also pays for starting BLAS threads and first-touching memory, as a fresh worker would once.
    yield "scaling_report_first_call_seconds", round(times[0], 3)
    report_seconds = statistics.median(times[1:])
    yield "scaling_report_seconds", round(report_seconds, 3)

    looped = queries[: min(LOOP_QUERIES, len(queries))]
    started = time.perf_counter()
    loop = loop_curves(looped, ks)
    loop_seconds = (time.perf_counter() - started) * len(queries) / len(looped)
    # The loop covered the first queries only: check it against the report on those same queries.
    check = report if len(looped) == len(queries) else scaling_report(looped, max_subsets=MAX_SUBSETS, bootstrap=0)
    for curve in ("voting", "metarm"):
        reported = _values(check, curve)
        worst = max(abs(reported[k] - loop[curve][k]) for k in ks)
        if worst > 1e-9:
            raise AssertionError(f"{curve}: the report and the loop differ by {worst}")
    scaled = "" if len(looped) == len(queries) else f"_scaled_from_{len(looped)}_queries"
    yield f"scaling_report_loop_seconds{scaled}", round(loop_seconds, 3)
    yield "scaling_report_vs_loop", round(loop_seconds / report_seconds, 1)
    yield "scaling_report_voting_at_1_and_32", f"{_values(report, 'voting')[1]:.4f} {_values(report, 'voting')[32]:.4f}"
    yield "scaling_report_metarm_at_32", f"{_values(report, 'metarm')[32]:.4f}"
