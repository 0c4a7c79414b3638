"""Inter-annotator agreement over review verdicts and failure modes: kappa, alpha, majority agreement.

Pure standard-library code (no Django), so the dashboard, a management command and a notebook share it.

One input shape throughout, ``units: Mapping[unit_id, Mapping[rater_id, value]]``: one entry per
reviewed item (a sample's verdict, or one failure mode of it as present/absent), mapping each
reviewer who rated it to the category they chose. A rater absent from a unit's mapping, or mapped to
``None``, did not rate it (a missing value). Categories are nominal: only equality between them matters.
Use :func:`units_from_rows` for the observers-by-units matrix of the literature.

Statistics are computed in exact rational arithmetic and converted to ``float`` at the end, so
relabelling categories or reordering raters and units cannot change a result, not even in the last bit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from itertools import combinations
from typing import TypedDict, TypeVar

UnitId = TypeVar("UnitId", bound=Hashable)
RaterId = TypeVar("RaterId", bound=Hashable)
Category = TypeVar("Category", bound=Hashable)


def units_from_rows(rows: Mapping[RaterId, Sequence[Hashable]]) -> dict[int, dict[RaterId, Hashable]]:
    """Turn a reliability data matrix (one row of values per rater, ``None`` for missing) into units keyed by column."""
    units: dict[int, dict[RaterId, Hashable]] = {}
    for rater, values in rows.items():
        for column, value in enumerate(values):
            units.setdefault(column, {})
            if value is not None:
                units[column][rater] = value
    return units


def _ratings(units: Mapping[UnitId, Mapping[RaterId, Hashable]]) -> dict[UnitId, dict[RaterId, Hashable]]:
    """The units with missing values (``None``) removed; units left with no rating are kept, empty."""
    return {
        unit: {rater: value for rater, value in by_rater.items() if value is not None}
        for unit, by_rater in units.items()
    }


def cohen_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> float | None:
    """Cohen's kappa for two raters, one ``(first_rater_value, second_rater_value)`` pair per item both rated.

    kappa = (p_o - p_e) / (1 - p_e), with p_o the share of items on which they agree and p_e the chance
    agreement from each rater's own marginal distribution. ``None`` for no items.

    When p_e = 1 (both raters put every item in the one same category) the formula is 0/0; we return
    1.0 if p_o = 1 and 0.0 otherwise. p_e = 1 forces p_o = 1, so in practice this case reads as perfect
    agreement: the dashboard shows "all reviewers said accept" as agreement, not as an undefined value.
    """
    n = len(pairs)
    if n == 0:
        return None
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    agreed = sum(1 for a, b in pairs if a == b)
    # In counts: p_o = agreed / n and p_e = chance / n^2, so integers keep the arithmetic exact.
    chance = sum(count * second[category] for category, count in first.items())
    if chance == n * n:
        return 1.0 if agreed == n else 0.0
    return float(Fraction(n * agreed - chance, n * n - chance))


def krippendorff_alpha_nominal(units: Mapping[UnitId, Mapping[RaterId, Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data, any number of raters, missing values allowed.

    Follows the coincidence-matrix computation of Krippendorff (2011), "Computing Krippendorff's
    Alpha-Reliability": a unit with m_u >= 2 values adds 1 / (m_u - 1) to o_ck for every ordered pair of
    values (c, k) from two different raters; units with fewer than 2 values are not pairable and are
    dropped. With n_c = sum_k o_ck and n = sum_c n_c (the number of pairable values):

        alpha = 1 - (n - 1) * D_o / D_e
              = ((n - 1) * sum_c o_cc - sum_c n_c (n_c - 1)) / (n (n - 1) - sum_c n_c (n_c - 1))

    ``None`` when undefined: fewer than 2 pairable values (no unit rated twice, including one rater only).
    When the expected disagreement is 0 (only one category is ever used among pairable values) the
    formula is 0/0; we return 1.0 if the observed disagreement is 0 (which a single category forces)
    and 0.0 otherwise, so unanimous queues read as full agreement.
    """
    coincidences: defaultdict[tuple[Hashable, Hashable], Fraction] = defaultdict(Fraction)
    for by_rater in _ratings(units).values():
        values = list(by_rater.values())
        m = len(values)
        if m < 2:
            continue
        weight = Fraction(1, m - 1)
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    coincidences[(c, k)] += weight

    totals: defaultdict[Hashable, Fraction] = defaultdict(Fraction)
    for (c, _), o_ck in coincidences.items():
        totals[c] += o_ck
    n = sum(totals.values(), Fraction(0))
    if n < 2:
        return None
    observed_agreement = sum((o_ck for (c, k), o_ck in coincidences.items() if c == k), Fraction(0))
    observed_disagreement = n - observed_agreement
    same_category_pairs = sum((n_c * (n_c - 1) for n_c in totals.values()), Fraction(0))
    expected_disagreement = n * (n - 1) - same_category_pairs
    if expected_disagreement == 0:
        return 1.0 if observed_disagreement == 0 else 0.0
    return float(((n - 1) * observed_agreement - same_category_pairs) / expected_disagreement)


def majority(values: Iterable[Category]) -> Category | None:
    """The value chosen strictly more often than any other, ``None`` entries ignored; ``None`` on a tie or no values."""
    counts = Counter(value for value in values if value is not None).most_common(2)
    if not counts or (len(counts) == 2 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def agreement_with_majority(
    units: Mapping[UnitId, Mapping[RaterId, Hashable]],
) -> dict[RaterId, tuple[int, int]]:
    """For each rater, ``(agreed, compared)``: how often their value matches the majority of the other raters.

    A rater's value on a unit is compared only when the unit has at least 3 ratings (so at least 2
    others) and the other raters' values have a strict majority (see :func:`majority`); tied units are
    skipped for that rater. ``compared`` counts those comparisons and ``agreed`` those that matched.
    Every rater with at least one rating appears, with ``(0, 0)`` when never compared.
    """
    counts: dict[RaterId, tuple[int, int]] = {}
    for by_rater in _ratings(units).values():
        for rater, value in by_rater.items():
            agreed, compared = counts.get(rater, (0, 0))
            if len(by_rater) >= 3:
                others = majority(other for other_rater, other in by_rater.items() if other_rater != rater)
                if others is not None:
                    agreed, compared = agreed + (value == others), compared + 1
            counts[rater] = (agreed, compared)
    return counts


class AgreementSummary(TypedDict):
    """What the dashboard shows for one question (verdict, or one failure mode) over one review queue."""

    n_units: int  # units with at least one rating
    n_pairable_units: int  # units with at least two ratings: the only ones agreement can speak about
    n_raters: int  # distinct raters with at least one rating
    percent_agreement: float | None  # a proportion in [0, 1]; None without pairable units
    kappa: float | None  # Cohen's kappa, only when exactly 2 raters (over units both rated)
    alpha: float | None  # Krippendorff's alpha (nominal), any number of raters


def summarize(units: Mapping[UnitId, Mapping[RaterId, Hashable]]) -> AgreementSummary:
    """Counts and agreement statistics for one set of units.

    ``percent_agreement`` is the mean over pairable units of the share of rater pairs on that unit who
    chose the same category, each unit weighing the same; with two raters it is the plain share of
    units on which they agree (kappa's p_o).
    """
    rated = {unit: by_rater for unit, by_rater in _ratings(units).items() if by_rater}
    pairable = [by_rater for by_rater in rated.values() if len(by_rater) >= 2]
    raters = {rater for by_rater in rated.values() for rater in by_rater}

    unit_agreements = [
        Fraction(sum(a == b for a, b in combinations(by_rater.values(), 2)), len(by_rater) * (len(by_rater) - 1) // 2)
        for by_rater in pairable
    ]
    percent_agreement = float(sum(unit_agreements, Fraction(0)) / len(unit_agreements)) if unit_agreements else None

    kappa = None
    if len(raters) == 2:
        first, second = raters  # kappa is symmetric in its two raters, so their order does not matter
        kappa = cohen_kappa([(by_rater[first], by_rater[second]) for by_rater in pairable])

    return AgreementSummary(
        n_units=len(rated),
        n_pairable_units=len(pairable),
        n_raters=len(raters),
        percent_agreement=percent_agreement,
        kappa=kappa,
        alpha=krippendorff_alpha_nominal(rated),
    )
