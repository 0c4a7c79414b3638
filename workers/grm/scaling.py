"""The scaling report of a finished run: how Voting@k and MetaRM@k (GRM_SPEC section 5) improve as the
number of samples k grows, from the K samples stored per query, with Monte Carlo standard errors and
bootstrap confidence bands. Pure numpy, vectorised across queries.

A point is an expectation over size-k subsets of each query's K samples: all C(K, k) subsets when
there are at most `max_subsets` (exact), else `max_subsets` seeded uniform draws. Two modes:

- "best" (queries with n >= 2 responses and a labelled best): the mean over queries of the expected
  accuracy. A tie earns 1 / number tied, the chance that the random tie-break picks the labelled
  best; a subset without a valid sample earns 0.
- "single" (queries with one response and a rating; used when no query qualifies for "best"): the
  ROC-AUC of the voted score (the mean of the subset's valid scores; no valid sample: lowest) against
  rating == positive_rating, each query's k samples drawn independently of the other queries'.

MetaRM@k keeps, within each subset, the max(1, k // 2) samples (or a run's k_meta share of k) with the
highest meta score (invalid or unscored samples last, ties by sample order) and votes over the valid
ones among them.

How it is vectorised: subsets are drawn over positions in a query's *meta order* (its samples sorted
by that rule), not over sample indices. A query maps each position to one of its samples, so its
subsets are still uniform over its samples, while MetaRM's kept samples become the first positions
of each subset for every query at once. Queries with the same K and n are stacked, and each point is
then a matrix product of subset rows with the stacked scores (for two responses, one product yields
both the score margin and the number of valid voters). The bootstrap resamples per-query values
computed once, as a product of resampling counts with them.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from workers.grm.metrics import roc_auc

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
Mode = Literal["best", "single"]
CURVES = ("voting", "metarm")

# Queries stacked per matrix product: bounds the (subsets x queries) arrays to a few tens of MB.
_STACK_QUERIES = 8192
# Bootstrap replicates resampled per block: bounds the (replicates x queries) count matrix.
_REPLICATE_BLOCK = 128


@dataclass(frozen=True)
class ReportQuery:
    """One query of a run: its K stored samples' scores in original response order (None = a parse
    failure), its labels, its subset (benchmark section) and each sample's meta score, if any."""

    scores: Sequence[Sequence[int] | None]
    best_index: int | None
    rating: int | None
    subset: str = ""
    meta_scores: Sequence[float | None] | None = None


def default_ks(max_k: int) -> list[int]:
    """1, 2, 4, ... up to max_k, and max_k itself."""
    ks = [1 << i for i in range(max_k.bit_length()) if 1 << i <= max_k]
    if ks and ks[-1] != max_k:
        ks.append(max_k)
    return ks


def subset_draws(
    stored: int, k: int, *, max_subsets: int, seed: int, enumerate_few: bool = True
) -> tuple[BoolArray, bool]:
    """(rows, exact): the size-k subsets a report point averages over, as indicator rows over the
    positions 0..stored-1 of a query's meta order; exact when they are all C(stored, k) of them.

    Every subset when there are at most max_subsets (and enumerate_few), else max_subsets uniform
    draws seeded by (seed, stored, k). A query's subset for a row is {its meta order[p] for each p set
    in the row}; MetaRM keeps the row's first metarm_keep(k) positions (`metarm_rows`).
    """
    if not 1 <= k <= stored:
        raise ValueError(f"k={k} is outside 1..{stored}, the samples stored per query")
    if enumerate_few and math.comb(stored, k) <= max_subsets:
        chosen = np.array(list(itertools.combinations(range(stored), k)), dtype=np.intp)
        exact = True
    else:
        rng = np.random.default_rng([seed, stored, k])
        chosen = np.argsort(rng.random((max_subsets, stored)), axis=1)[:, :k]
        exact = False
    rows = np.zeros((len(chosen), stored), dtype=bool)
    np.put_along_axis(rows, chosen, True, axis=1)
    return rows, exact


def metarm_keep(k: int, keep: tuple[int, int] = (1, 2)) -> int:
    """How many of k samples MetaRM@k votes over: the share keep = (kept, of) of them, at least one
    (the paper's default k/2; a run's k_meta of its K samples is (k_meta, K), exact at k = K)."""
    kept, of = keep
    return max(1, k * kept // of)


def metarm_rows(rows: BoolArray, k: int, keep: tuple[int, int] = (1, 2)) -> BoolArray:
    """The positions MetaRM@k keeps from each subset row: the first metarm_keep(k), best meta score first."""
    return rows & (np.cumsum(rows, axis=1) <= metarm_keep(k, keep))


def meta_order(valid: BoolArray, meta_scores: FloatArray) -> IntArray:
    """Each query's (row's) sample indices by meta score, highest first: invalid or unscored (NaN)
    samples last, ties by sample order."""
    unranked = ~valid | np.isnan(meta_scores)
    index = np.broadcast_to(np.arange(valid.shape[-1]), valid.shape)
    return np.lexsort((index, np.where(unranked, 0.0, -meta_scores), unranked), axis=-1).astype(np.intp)


@dataclass(frozen=True)
class _Stack:
    """Queries with the same K samples and n responses, samples in meta order (position p = the p-th
    sample by meta score), laid out for matrix products with subset rows."""

    stored: int
    members: IntArray  # positions in the report's list of queries
    margins: FloatArray  # (K, queries * width): "best": the best's score minus each other's; "single": the score
    valid: FloatArray  # (K, queries): 1.0 where the sample parsed
    width: int
    # "best" with two responses: (K + 1) * margin + valid, so that one product gives both sums.
    packed: npt.NDArray[np.float32] | None = None
    # Members are sorted by section (0: none, j + 1: the j-th subset label): where each run starts.
    segment_starts: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.intp))
    segment_sections: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.intp))

    def section_sums(self, outcomes: npt.NDArray[np.floating[Any]], sections: int) -> FloatArray:
        """(subsets, sections): the outcomes summed over all members (column 0) and over each label's."""
        segment_sums = np.add.reduceat(outcomes, self.segment_starts, axis=1).astype(np.float64)
        sums = np.zeros((len(outcomes), sections))
        sums[:, 0] = segment_sums.sum(axis=1)
        labelled = self.segment_sections > 0
        sums[:, self.segment_sections[labelled]] = segment_sums[:, labelled]
        return sums

    def outcomes(self, rows: BoolArray, *, mode: Mode) -> npt.NDArray[np.floating[Any]]:
        """(subsets, queries): "best": the expected credit of the vote; "single": the voted score."""
        if self.packed is not None:
            # Summed over a subset: (K + 1) * margin + voters, voters <= K. At least K + 1: the best wins
            # (1); 1..K: voters but a tie (1/2); 0 or less: a loss or nobody voted (0). Exact in float32.
            totals = rows.astype(np.float32) @ self.packed
            doubled = (totals > 0).view(np.int8) + (totals >= self.stored + 1).view(np.int8)
            return np.float32(0.5) * doubled.astype(np.float32)
        rows_f = rows.astype(float)
        voters = rows_f @ self.valid
        sums = (rows_f @ self.margins).reshape(len(rows), len(self.members), self.width)
        if mode == "single":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(voters > 0, sums[..., 0] / voters, -np.inf)
        credit = (sums >= 0).all(axis=-1) / (1 + (sums == 0).sum(axis=-1))
        return np.where(voters > 0, credit, 0.0)


def _responses(query: ReportQuery) -> int | None:
    """n, read off the valid samples (None when none parsed); all of them must agree."""
    lengths = {len(row) for row in query.scores if row is not None}
    if len(lengths) > 1:
        raise ValueError(f"a query's samples score different numbers of responses: {sorted(lengths)}")
    return lengths.pop() if lengths else None


def _qualifying(queries: Sequence[ReportQuery]) -> tuple[Mode, list[ReportQuery], list[int]]:
    """The mode, the queries it reports on (those with samples) and each one's n."""
    shapes = [_responses(query) for query in queries]
    for query in queries:
        if query.meta_scores is not None and len(query.meta_scores) != len(query.scores):
            raise ValueError(f"{len(query.meta_scores)} meta scores for {len(query.scores)} samples")
    best = [
        (query, n)
        for query, n in zip(queries, shapes, strict=True)
        if query.scores and query.best_index is not None and (n is None or n >= 2)
    ]
    if best:
        for query, n in best:
            if n is not None and not 0 <= (query.best_index or 0) < n:
                raise ValueError(f"best_index {query.best_index} is outside the {n} responses")
        # A query none of whose samples parsed earns 0 whatever its n: any n that holds its best will do.
        return "best", [query for query, _ in best], [n or max(2, (query.best_index or 0) + 1) for query, n in best]
    single = [
        query
        for query, n in zip(queries, shapes, strict=True)
        if query.scores and query.rating is not None and query.best_index is None and n in (None, 1)
    ]
    return "single", single, [1] * len(single)


def _stacks(
    queries: Sequence[ReportQuery], responses: Sequence[int], sections: IntArray, *, mode: Mode
) -> list[_Stack]:
    """The queries stacked by (K, n), at most _STACK_QUERIES to a stack, each stack's sorted by section."""
    by_shape: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
    for position, (query, n) in enumerate(zip(queries, responses, strict=True)):
        by_shape[(len(query.scores), n)].append(position)
    stacks = []
    for (stored, n), positions in sorted(by_shape.items()):
        positions.sort(key=lambda position: sections[position])
        for start in range(0, len(positions), _STACK_QUERIES):
            members = positions[start : start + _STACK_QUERIES]
            stack = _stack([queries[i] for i in members], members, stored=stored, n=n, mode=mode)
            member_sections = sections[members]
            starts = np.flatnonzero(np.r_[True, member_sections[1:] != member_sections[:-1]])
            stacks.append(replace(stack, segment_starts=starts, segment_sections=member_sections[starts]))
    return stacks


def _stack(group: Sequence[ReportQuery], members: list[int], *, stored: int, n: int, mode: Mode) -> _Stack:
    count = len(group)
    no_scores = (0,) * n
    scores = np.fromiter(
        itertools.chain.from_iterable(row if row is not None else no_scores for q in group for row in q.scores),
        dtype=float,
        count=count * stored * n,
    ).reshape(count, stored, n)
    valid = np.fromiter((row is not None for q in group for row in q.scores), dtype=bool, count=count * stored)
    valid = valid.reshape(count, stored)
    unscored = [None] * stored
    meta = np.fromiter(
        (np.nan if value is None else value for q in group for value in (q.meta_scores or unscored)),
        dtype=float,
        count=count * stored,
    ).reshape(count, stored)
    order = meta_order(valid, meta)
    scores = np.take_along_axis(scores, order[:, :, None], axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    if mode == "best":
        best = np.array([q.best_index for q in group], dtype=np.intp)
        others = (best[:, None] + np.arange(1, n)) % n  # every response but the best, in any order
        best_scores = np.take_along_axis(scores, best[:, None, None], axis=2)
        margins = best_scores - np.take_along_axis(
            scores, np.broadcast_to(others[:, None, :], (count, stored, n - 1)), 2
        )
    else:
        margins = scores
    width = margins.shape[2]
    packed = None
    # float32 holds integers exactly below 2**24: true for any sensible score range.
    if mode == "best" and width == 1 and (stored + 1) * stored * (np.abs(margins).max(initial=0) + 1) < 2**24:
        packed = np.ascontiguousarray(((stored + 1) * margins[:, :, 0] + valid).T, dtype=np.float32)
    return _Stack(
        stored=stored,
        members=np.array(members, dtype=np.intp),
        margins=np.ascontiguousarray(margins.transpose(1, 0, 2).reshape(stored, count * width)),
        valid=np.ascontiguousarray(valid.T, dtype=float),
        width=width,
        packed=packed,
    )


@dataclass(frozen=True)
class _Settings:
    max_subsets: int
    bootstrap: int
    confidence: float
    seed: int
    meta_keep: tuple[int, int]

    def rows(self, stored: int, k: int, curve: str, *, enumerate_few: bool = True) -> tuple[BoolArray, bool]:
        """A curve's subset rows for queries with `stored` samples (MetaRM's keep only its first positions)."""
        rows, exact = subset_draws(stored, k, max_subsets=self.max_subsets, seed=self.seed, enumerate_few=enumerate_few)
        return (metarm_rows(rows, k, self.meta_keep) if curve == "metarm" else rows), exact

    def bootstrap_rng(self, label: str) -> np.random.Generator:
        # One stream per section, the same whatever other sections the report holds.
        return np.random.default_rng([self.seed, zlib.crc32(label.encode()), 1])


@dataclass(frozen=True)
class _BestPoint:
    """One "best" point of one curve: each query's expected accuracy and, per K, the credit summed over
    the queries of each section for each subset draw (whose spread is the Monte Carlo error)."""

    expected: FloatArray  # (queries,), NaN where K < k
    draw_sums: dict[int, tuple[FloatArray, bool]]  # K -> ((draws, sections), exact)


@dataclass(frozen=True)
class _SinglePoint:
    """One "single" point of one curve: the voted score of each query with K >= k in each draw."""

    members: IntArray  # sorted positions of those queries
    voted: FloatArray  # (draws, members)
    exact: bool


def scaling_report(
    queries: Sequence[ReportQuery],
    *,
    ks: Sequence[int] | None = None,
    max_subsets: int = 512,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    positive_rating: int = 1,
    meta_keep: tuple[int, int] = (1, 2),
) -> dict[str, Any]:
    """Voting@k and MetaRM@k curves, overall and per subset, as plain JSON-able data:

    {"mode": "best" | "single", "metric": "accuracy" | "roc_auc", "queries", "ks", "confidence",
     "voting": [point, ...], "metarm": [...] (only when some sample has a meta score),
     "subsets": {name: {"queries", "voting", "metarm"}}}

    A point is {"k", "queries", "value", "low", "high", "stderr", "exact"}: low and high the percentile
    bootstrap band over queries, stderr the Monte Carlo standard error of the value (None when exact).
    A query with fewer than k samples is left out of that point; a point with no query (for ROC-AUC:
    without both classes) is left out of its curve. Seeds must be >= 0. MetaRM@k keeps
    metarm_keep(k, meta_keep) samples of each subset: k // 2 by default; pass (k_meta, K) for a run's
    own k_meta of its K samples.
    """
    if max_subsets < 1 or bootstrap < 0 or not 0 < confidence < 1 or seed < 0:
        raise ValueError("need max_subsets >= 1, bootstrap >= 0, 0 < confidence < 1 and seed >= 0")
    if not 0 < meta_keep[0] <= meta_keep[1]:
        raise ValueError(f"meta_keep must be a share (kept, of) with 0 < kept <= of, got {meta_keep}")
    mode, reported, responses = _qualifying(queries)
    report: dict[str, Any] = {
        "mode": mode,
        "metric": "accuracy" if mode == "best" else "roc_auc",
        "queries": len(reported),
        "ks": [],
        "confidence": confidence,
        "meta_keep": list(meta_keep),
        "voting": [],
        "subsets": {},
    }
    if not reported:
        return report
    stored = np.array([len(query.scores) for query in reported], dtype=np.intp)
    points_k = _checked_ks(ks, int(stored.max()))
    curves = CURVES if any(_has_meta_score(query) for query in reported) else CURVES[:1]
    labels = sorted({query.subset for query in reported if query.subset})
    # Section 0 is the whole report; section j + 1 the queries of labels[j].
    section_of = {label: section for section, label in enumerate(labels, start=1)}
    sections = np.array([section_of.get(query.subset, 0) for query in reported], dtype=np.intp)
    in_sections = [np.ones(len(reported), dtype=bool)] + [sections == section for section in section_of.values()]
    settings = _Settings(
        max_subsets=max_subsets,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
        meta_keep=(meta_keep[0], meta_keep[1]),
    )
    stacks = _stacks(reported, responses, sections, mode=mode)
    curves_by_section: list[dict[str, list[dict[str, Any]]]] = []
    if mode == "best":
        best_points = _best_points(stacks, len(reported), points_k, curves, len(in_sections), settings)
        for section, label in enumerate(["", *labels]):
            curves_by_section.append(
                _best_section(
                    best_points,
                    points_k,
                    curves,
                    section=section,
                    in_section=in_sections[section],
                    stored=stored,
                    settings=settings,
                    rng=settings.bootstrap_rng(label),
                )
            )
    else:
        positive = np.array([query.rating == positive_rating for query in reported])
        single_points = _single_points(stacks, points_k, curves, settings)
        for section, label in enumerate(["", *labels]):
            curves_by_section.append(
                _single_section(
                    single_points,
                    points_k,
                    curves,
                    in_section=in_sections[section],
                    positive=positive,
                    stored=stored,
                    settings=settings,
                    rng=settings.bootstrap_rng(label),
                )
            )
    report.update(ks=points_k, **curves_by_section[0])
    report["subsets"] = {
        label: {"queries": int(in_sections[section].sum()), **curves_by_section[section]}
        for label, section in section_of.items()
    }
    return report


def _has_meta_score(query: ReportQuery) -> bool:
    return query.meta_scores is not None and any(value is not None for value in query.meta_scores)


def _checked_ks(ks: Sequence[int] | None, max_stored: int) -> list[int]:
    if ks is None:
        return default_ks(max_stored)
    chosen = sorted(set(ks))
    if not chosen or chosen[0] < 1 or chosen[-1] > max_stored:
        raise ValueError(f"every k must be within 1..{max_stored}, the most samples stored per query")
    return chosen


def _point_groups(
    in_section: BoolArray, stored: IntArray, points_k: Sequence[int]
) -> Iterator[tuple[IntArray, list[int]]]:
    """(queries, ks): the section's points grouped by the queries they include. Queries with K >= k form
    nested sets, so points including as many queries include the same ones and share a bootstrap."""
    by_count: defaultdict[int, list[int]] = defaultdict(list)
    for k in points_k:
        count = int((in_section & (stored >= k)).sum())
        if count:
            by_count[count].append(k)
    for count in sorted(by_count, reverse=True):
        group_ks = by_count[count]
        yield np.flatnonzero(in_section & (stored >= group_ks[0])), group_ks


def _resampled_counts(rng: np.random.Generator, queries: int, replicates: int) -> Iterator[FloatArray]:
    """Blocks of bootstrap replicates: how often each query is drawn when `queries` are drawn with replacement."""
    for start in range(0, replicates, _REPLICATE_BLOCK):
        block = min(_REPLICATE_BLOCK, replicates - start)
        drawn = rng.integers(0, queries, size=(block, queries)) + queries * np.arange(block)[:, None]
        yield np.bincount(drawn.ravel(), minlength=block * queries).reshape(block, queries).astype(float)


def _band(replicates: FloatArray, confidence: float) -> tuple[float | None, float | None]:
    """The percentile bootstrap interval; None without a usable replicate."""
    usable = replicates[~np.isnan(replicates)]
    if not usable.size:
        return None, None
    tail = 50 * (1 - confidence)
    low, high = np.percentile(usable, [tail, 100 - tail])
    return float(low), float(high)


def _best_points(
    stacks: Sequence[_Stack],
    queries: int,
    points_k: Sequence[int],
    curves: Sequence[str],
    sections: int,
    settings: _Settings,
) -> dict[tuple[str, int], _BestPoint]:
    points = {}
    for curve, k in itertools.product(curves, points_k):
        point = _BestPoint(expected=np.full(queries, np.nan), draw_sums={})
        for stack in stacks:
            if stack.stored < k:
                continue
            rows, exact = settings.rows(stack.stored, k, curve)
            credit = stack.outcomes(rows, mode="best")
            totals = np.ones(len(rows), dtype=credit.dtype) @ credit  # exact: sums of multiples of 1/2
            point.expected[stack.members] = totals.astype(np.float64) / len(rows)
            # Stacks with the same K used the same draws: their sums add up draw by draw.
            sums = stack.section_sums(credit, sections)
            previous = point.draw_sums.get(stack.stored)
            point.draw_sums[stack.stored] = (sums if previous is None else previous[0] + sums, exact)
        points[(curve, k)] = point
    return points


def _best_section(
    points: dict[tuple[str, int], _BestPoint],
    points_k: Sequence[int],
    curves: Sequence[str],
    *,
    section: int,
    in_section: BoolArray,
    stored: IntArray,
    settings: _Settings,
    rng: np.random.Generator,
) -> dict[str, list[dict[str, Any]]]:
    """One section's curves: mean expected accuracy, its Monte Carlo error and its bootstrap band."""
    output: dict[str, list[dict[str, Any]]] = {curve: [] for curve in curves}
    for included, group_ks in _point_groups(in_section, stored, points_k):
        keys = list(itertools.product(curves, group_ks))
        # Per-query expected accuracies, computed once; the bootstrap resamples them.
        expected = np.column_stack([points[key].expected[included] for key in keys])
        replicates = np.vstack(
            [counts @ expected / len(included) for counts in _resampled_counts(rng, len(included), settings.bootstrap)]
            or [np.empty((0, len(keys)))]
        )
        for index, (curve, k) in enumerate(keys):
            low, high = _band(replicates[:, index], settings.confidence)
            # Draws differ between K (seeded by K), so their Monte Carlo variances add up.
            sampled = [sums[:, section] for sums, exact in points[(curve, k)].draw_sums.values() if not exact]
            variance = sum(float(np.var(sums, ddof=1 if len(sums) > 1 else 0)) / len(sums) for sums in sampled)
            output[curve].append(
                {
                    "k": k,
                    "queries": len(included),
                    "value": float(expected[:, index].mean()),
                    "low": low,
                    "high": high,
                    "stderr": math.sqrt(variance) / len(included) if sampled else None,
                    "exact": not sampled,
                }
            )
    return {curve: sorted(points_list, key=lambda point: point["k"]) for curve, points_list in output.items()}


def _single_points(
    stacks: Sequence[_Stack], points_k: Sequence[int], curves: Sequence[str], settings: _Settings
) -> dict[tuple[str, int], _SinglePoint]:
    points = {}
    for curve, k in itertools.product(curves, points_k):
        included = [stack for stack in stacks if stack.stored >= k]
        if not included:
            continue
        # Every query must have as many draws to weigh alike: queries of several K all take max_subsets.
        enumerate_few = len({stack.stored for stack in included}) == 1
        voted, members, exact = [], [], True
        for stack in included:
            rows, stack_exact = settings.rows(stack.stored, k, curve, enumerate_few=enumerate_few)
            voted.append(stack.outcomes(rows, mode="single"))
            members.append(stack.members)
            exact = exact and stack_exact
        positions = np.concatenate(members)
        order = np.argsort(positions)
        points[(curve, k)] = _SinglePoint(
            members=positions[order], voted=np.concatenate(voted, axis=1)[:, order], exact=exact
        )
    return points


@dataclass(frozen=True)
class _VotedScores:
    """One single-response point over one section's queries: the voted scores as histograms over their
    distinct values, per query (averaged over draws) and pooled per draw."""

    per_query: FloatArray  # (queries, values): the share of draws giving each value
    value_index: IntArray  # (draws, queries): which value each draw gave
    values: int
    positive: BoolArray

    @classmethod
    def of(cls, voted: FloatArray, positive: BoolArray) -> _VotedScores:
        distinct, inverse = np.unique(voted, return_inverse=True)
        value_index = inverse.reshape(voted.shape)
        draws, queries = voted.shape
        cells = (np.arange(queries) * len(distinct) + value_index).ravel()
        counts = np.bincount(cells, minlength=queries * len(distinct)).reshape(queries, len(distinct))
        return cls(per_query=counts / draws, value_index=value_index, values=len(distinct), positive=positive)

    def auc(self, weights: FloatArray) -> FloatArray:
        """ROC-AUC for each row of query weights (a bootstrap replicate); NaN when a class is missing."""
        positives = weights[:, self.positive] @ self.per_query[self.positive]
        negatives = weights[:, ~self.positive] @ self.per_query[~self.positive]
        with np.errstate(divide="ignore", invalid="ignore"):
            positives /= positives.sum(axis=1, keepdims=True)
            negatives /= negatives.sum(axis=1, keepdims=True)
        # A positive's value beats every lower negative and ties half of the equal ones.
        below_or_half_tied = np.cumsum(negatives, axis=1) - 0.5 * negatives
        return np.asarray((positives * below_or_half_tied).sum(axis=1))

    def stderr(self) -> float:
        """Monte Carlo standard error of the AUC over the draws (delta method: the AUC is bilinear in
        the positives' and the negatives' pooled value distributions, each a mean over draws)."""
        draws = len(self.value_index)
        pooled = [self._pooled(self.value_index[:, self.positive]), self._pooled(self.value_index[:, ~self.positive])]
        positives, negatives = (histograms.mean(axis=0) for histograms in pooled)
        beats_negatives = np.cumsum(negatives) - 0.5 * negatives
        beaten_by_positives = np.cumsum(positives[::-1])[::-1] - 0.5 * positives
        influence = (pooled[0] - positives) @ beats_negatives + (pooled[1] - negatives) @ beaten_by_positives
        return float(np.std(influence, ddof=1 if draws > 1 else 0) / math.sqrt(draws))

    def _pooled(self, value_index: IntArray) -> FloatArray:
        draws, queries = value_index.shape
        cells = (np.arange(draws)[:, None] * self.values + value_index).ravel()
        return np.bincount(cells, minlength=draws * self.values).reshape(draws, self.values) / queries


def _single_section(
    points: dict[tuple[str, int], _SinglePoint],
    points_k: Sequence[int],
    curves: Sequence[str],
    *,
    in_section: BoolArray,
    positive: BoolArray,
    stored: IntArray,
    settings: _Settings,
    rng: np.random.Generator,
) -> dict[str, list[dict[str, Any]]]:
    """One section's ROC-AUC curves: each point's value, Monte Carlo error and bootstrap band."""
    output: dict[str, list[dict[str, Any]]] = {curve: [] for curve in curves}
    for included, group_ks in _point_groups(in_section, stored, points_k):
        labels = positive[included]
        computed = []
        for curve, k in itertools.product(curves, group_ks):
            point = points[(curve, k)]
            voted = point.voted[:, np.searchsorted(point.members, included)]
            # Every (query, draw) pair weighs alike: the chance a random positive's voted score beats a
            # random negative's, each query's k samples drawn independently.
            # (roc_auc takes any array: it starts with np.asarray; its hints say Sequence.)
            value = roc_auc(cast(Sequence[float], voted.ravel()), cast(Sequence[bool], np.tile(labels, len(voted))))
            if value is not None:
                computed.append((curve, k, value, point.exact, _VotedScores.of(voted, labels)))
        replicates: list[list[FloatArray]] = [[] for _ in computed]
        for counts in _resampled_counts(rng, len(included), settings.bootstrap if computed else 0):
            for collected, (*_, scores) in zip(replicates, computed, strict=True):
                collected.append(scores.auc(counts))
        for collected, (curve, k, value, exact, scores) in zip(replicates, computed, strict=True):
            low, high = _band(np.concatenate(collected) if collected else np.empty(0), settings.confidence)
            output[curve].append(
                {
                    "k": k,
                    "queries": len(included),
                    "value": value,
                    "low": low,
                    "high": high,
                    "stderr": None if exact else scores.stderr(),
                    "exact": exact,
                }
            )
    return {curve: sorted(points_list, key=lambda point: point["k"]) for curve, points_list in output.items()}
