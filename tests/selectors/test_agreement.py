"""Agreement statistics pinned to published examples and checked by hand; properties with hypothesis."""

from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reviews.agreement import (
    agreement_with_majority,
    cohen_kappa,
    krippendorff_alpha_nominal,
    majority,
    summarize,
    units_from_rows,
)

NA = None  # a missing value, so the matrices below line up like the paper's tables

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units, nominal.
KRIPPENDORFF_2011_ROWS = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, NA, NA, NA],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NA, 3],
    "C": [NA, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NA],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NA],
}

# Krippendorff (2011), section A: two observers, ten units, binary data.
KRIPPENDORFF_2011_BINARY_ROWS = {
    "A": [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    "B": [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
}


def pairs_from_table(table: dict[tuple[str, str], int]) -> list[tuple[str, str]]:
    return [pair for pair, count in table.items() for _ in range(count)]


def two_rater_units(pairs):
    return {index: {"first": a, "second": b} for index, (a, b) in enumerate(pairs)}


def scott_pi(pairs) -> Fraction:
    """Scott's pi: kappa's formula with chance agreement from the pooled marginals of both raters."""
    n = len(pairs)
    pooled = Counter(value for pair in pairs for value in pair)
    observed = Fraction(sum(a == b for a, b in pairs), n)
    expected = sum((Fraction(count, 2 * n) ** 2 for count in pooled.values()), Fraction(0))
    return (observed - expected) / (1 - expected)


# --- published values -------------------------------------------------------------------------------------


def test_krippendorff_2011_nominal_example():
    # The paper's coincidence matrix: diagonal o_11..o_55 = 7, 10, 8, 4, 3 (sum 32), n_c = 9, 13, 10, 5, 3, n = 40
    # (unit 12 has one value and drops out). sum n_c (n_c - 1) = 72 + 156 + 90 + 20 + 6 = 344, so
    # alpha = (39 * 32 - 344) / (40 * 39 - 344) = 904 / 1216 = 0.7434, the paper's 0.743.
    alpha = krippendorff_alpha_nominal(units_from_rows(KRIPPENDORFF_2011_ROWS))
    assert alpha == pytest.approx(0.743, abs=5e-4)
    assert alpha == pytest.approx(904 / 1216)


def test_krippendorff_2011_binary_example():
    # n_0 = 14, n_1 = 6, n = 20; four disagreeing units give o_01 = 4: alpha = 1 - 19 * 4 / (14 * 6) = 0.095.
    alpha = krippendorff_alpha_nominal(units_from_rows(KRIPPENDORFF_2011_BINARY_ROWS))
    assert alpha == pytest.approx(0.095, abs=5e-4)
    assert alpha == pytest.approx(1 - 19 * 4 / 84)


def test_cohen_kappa_textbook_two_by_two():
    # 50 items. First rater yes 25 / no 25, second yes 30 / no 20.
    # p_o = (20 + 15) / 50 = 0.70; p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.50; kappa = (0.70 - 0.50) / (1 - 0.50) = 0.4.
    pairs = pairs_from_table({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15})
    assert cohen_kappa(pairs) == pytest.approx(0.4, abs=5e-4)


def test_cohen_kappa_on_the_binary_example():
    # A: 2 ones, 8 zeros; B: 4 ones, 6 zeros. p_o = 0.6, p_e = 0.2 * 0.4 + 0.8 * 0.6 = 0.56, kappa = 0.04 / 0.44.
    pairs = list(zip(KRIPPENDORFF_2011_BINARY_ROWS["A"], KRIPPENDORFF_2011_BINARY_ROWS["B"], strict=True))
    assert cohen_kappa(pairs) == pytest.approx(0.091, abs=5e-4)


# --- kappa, alpha and Scott's pi for two raters ---------------------------------------------------------------


def test_with_equal_marginals_alpha_is_slightly_above_kappa():
    # Both raters 25 yes / 25 no: p_o = 0.8, p_e = 0.5, kappa = pi = 0.6; alpha = 1 - (99 / 100) * (1 - 0.6) = 0.604.
    pairs = pairs_from_table({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 5, ("no", "no"): 20})
    kappa = cohen_kappa(pairs)
    alpha = krippendorff_alpha_nominal(two_rater_units(pairs))
    assert kappa == pytest.approx(0.6)
    assert alpha == pytest.approx(0.604)
    assert kappa is not None
    assert alpha is not None
    assert alpha > kappa


def test_with_unequal_marginals_kappa_can_exceed_alpha():
    # Alpha tracks Scott's pi (pooled marginals), not kappa: a rater who says "yes" far more often lowers pi and
    # alpha while kappa credits each rater's own bias. p_o = 0.4; kappa = (0.4 - 0.32) / 0.68; pi = -0.2.
    pairs = pairs_from_table({("yes", "yes"): 10, ("yes", "no"): 30, ("no", "no"): 10})
    assert cohen_kappa(pairs) == pytest.approx(0.08 / 0.68)
    assert krippendorff_alpha_nominal(two_rater_units(pairs)) == pytest.approx(1 - 0.99 * 1.2)


two_rater_pairs = st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1, max_size=40)


@given(two_rater_pairs)
def test_two_raters_without_missing_values_alpha_is_a_small_sample_corrected_scott_pi(pairs):
    # For 2 raters and N items with no missing values: alpha = 1 - (2N - 1) / (2N) * (1 - pi), and pi <= kappa.
    n = len(pairs)
    alpha = krippendorff_alpha_nominal(two_rater_units(pairs))
    kappa = cohen_kappa(pairs)
    assert alpha is not None
    assert kappa is not None
    if len({value for pair in pairs for value in pair}) == 1:
        assert alpha == kappa == 1.0
        return
    pi = scott_pi(pairs)
    assert alpha == pytest.approx(float(1 - Fraction(2 * n - 1, 2 * n) * (1 - pi)))
    assert alpha >= float(pi) - 1e-12
    assert kappa >= float(pi) - 1e-12


# --- perfect agreement, disagreement, degenerate and missing cases -------------------------------------------


def test_perfect_agreement_is_one():
    pairs = [("accept", "accept"), ("reject", "reject"), ("accept", "accept")]
    assert cohen_kappa(pairs) == 1.0
    assert krippendorff_alpha_nominal(two_rater_units(pairs)) == 1.0
    assert krippendorff_alpha_nominal({1: {"a": 1, "b": 1, "c": 1}, 2: {"a": 2, "b": 2}, 3: {"b": 3, "c": 3}}) == 1.0


def test_systematic_disagreement_is_negative():
    pairs = [("accept", "reject"), ("reject", "accept")] * 5
    kappa = cohen_kappa(pairs)
    alpha = krippendorff_alpha_nominal(two_rater_units(pairs))
    # p_o = 0, p_e = 0.5: kappa = -1. Pooled n_c = 10 each, n = 20: alpha = (0 - 180) / (380 - 180) = -0.9.
    assert kappa == pytest.approx(-1.0)
    assert alpha == pytest.approx(-0.9)


def test_empty_input_is_undefined():
    assert cohen_kappa([]) is None
    assert krippendorff_alpha_nominal({}) is None
    assert krippendorff_alpha_nominal({1: {}, 2: {"a": NA}}) is None


def test_one_rater_gives_no_alpha():
    assert krippendorff_alpha_nominal({1: {"rita": "accept"}, 2: {"rita": "reject"}}) is None
    assert krippendorff_alpha_nominal(units_from_rows({"rita": ["accept", "reject", "accept"]})) is None


def test_units_rated_once_are_not_pairable():
    # Two raters but never on the same unit: no pairable values.
    assert krippendorff_alpha_nominal({1: {"rita": "accept"}, 2: {"sam": "reject"}}) is None


def test_a_single_category_everywhere_is_full_agreement():
    # Chance agreement is 1 and the formulas are 0/0: defined as 1.0 since every rating agrees.
    assert cohen_kappa([("accept", "accept")] * 4) == 1.0
    assert krippendorff_alpha_nominal({i: {"a": "absent", "b": "absent", "c": "absent"} for i in range(5)}) == 1.0
    # A lone differing value on an unpairable unit does not count.
    assert krippendorff_alpha_nominal({1: {"a": "x", "b": "x"}, 2: {"a": "y"}}) == 1.0


def test_missing_values_may_be_absent_or_none():
    absent = {1: {"a": 1, "b": 1}, 2: {"a": 2, "c": 1}, 3: {"b": 2, "c": 2}, 4: {"a": 1}}
    as_none: dict[int, dict[str, int | None]] = {
        1: {"a": 1, "b": 1, "c": NA},
        2: {"a": 2, "b": NA, "c": 1},
        3: {"a": NA, "b": 2, "c": 2},
        4: {"a": 1},
    }
    assert krippendorff_alpha_nominal(absent) == krippendorff_alpha_nominal(as_none)
    assert summarize(absent) == summarize(as_none)
    assert agreement_with_majority(absent) == agreement_with_majority(as_none)


def test_missing_values_by_hand():
    # Unit 1: 1,1 (two values, one pair each way: o_11 += 2). Unit 2: 1,1,2 (weight 1/2: o_11 += 1, o_12 = o_21 = 1).
    # n_1 = 4, n_2 = 1, n = 5; sum o_cc = 3; alpha = (4 * 3 - (12 + 0)) / (20 - 12) = 0.
    units = {1: {"a": 1, "b": 1}, 2: {"a": 1, "b": 1, "c": 2}, 3: {"c": 2}}
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.0)


def test_units_from_rows_reads_columns_as_units():
    units = units_from_rows({"a": [1, NA, 3], "b": [1, 2]})
    assert units == {0: {"a": 1, "b": 1}, 1: {"b": 2}, 2: {"a": 3}}


# --- majority and agreement with the majority ----------------------------------------------------------------


def test_majority():
    assert majority(["accept", "reject", "accept"]) == "accept"
    assert majority(["accept"]) == "accept"
    assert majority(["accept", "reject"]) is None
    assert majority([1, 1, 2, 2, 3]) is None
    assert majority([1, 1, 2, 3]) == 1
    assert majority([]) is None
    assert majority([NA, "reject", NA]) == "reject"


def test_agreement_with_majority_of_the_others_on_the_published_example():
    # A rates units 1-9; all have >= 3 ratings. Unit 6 (others 2, 3, 4) ties and is skipped; A agrees on the rest.
    # C: unit 2 (C 3 vs others 2, 2, 2) and unit 8 (C 2 vs 1, 1, 1) disagree; unit 6 ties; unit 11 has 2 ratings.
    # B and D: unit 6 ties; they agree with the others on units 1-5 and 7-10. B's unit 12 has one rating.
    assert agreement_with_majority(units_from_rows(KRIPPENDORFF_2011_ROWS)) == {
        "A": (8, 8),
        "B": (9, 9),
        "C": (6, 8),
        "D": (9, 9),
    }


def test_agreement_with_majority_needs_three_ratings_and_lists_every_rater():
    units = {
        1: {"rita": "accept", "sam": "reject"},  # only one other rater: never compared
        2: {"rita": "accept", "sam": "accept", "tom": "reject"},  # rita, sam: others tie; tom vs accept, accept
        3: {"rita": "reject", "sam": "accept", "tom": "accept", "uma": "accept"},  # everyone vs a clear majority
        4: {"uma": "reject"},  # listed, never compared
    }
    # rita: unit 3 only, disagrees. sam: unit 3, agrees. tom: unit 2 disagrees, unit 3 agrees. uma: unit 3 agrees.
    assert agreement_with_majority(units) == {"rita": (0, 1), "sam": (1, 1), "tom": (1, 2), "uma": (1, 1)}
    assert agreement_with_majority({4: {"uma": "reject"}}) == {"uma": (0, 0)}
    assert agreement_with_majority({}) == {}


# --- summary -------------------------------------------------------------------------------------------------


def test_summarize_the_published_example():
    # Per pairable unit, share of agreeing pairs: units 2 and 8 (three of a kind among four) 3/6, unit 6 none,
    # the other eight units 1: (8 + 0.5 + 0.5) / 11.
    assert summarize(units_from_rows(KRIPPENDORFF_2011_ROWS)) == {
        "n_units": 12,
        "n_pairable_units": 11,
        "n_raters": 4,
        "percent_agreement": pytest.approx(9 / 11),
        "kappa": None,
        "alpha": pytest.approx(904 / 1216),
    }


def test_summarize_two_reviewers_gives_kappa_over_units_both_rated():
    pairs = pairs_from_table({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15})
    units = {**two_rater_units(pairs), "extra": {"first": "yes"}}
    summary = summarize(units)
    assert summary["n_units"] == 51
    assert summary["n_pairable_units"] == 50
    assert summary["n_raters"] == 2
    assert summary["percent_agreement"] == pytest.approx(0.7)
    assert summary["kappa"] == pytest.approx(0.4)
    assert summary["alpha"] == pytest.approx(0.4)  # pooled marginals 55/45: pi = 0.195 / 0.495, and 0.99 (1 - pi) = 0.6


def test_summarize_nothing():
    assert summarize({}) == {
        "n_units": 0,
        "n_pairable_units": 0,
        "n_raters": 0,
        "percent_agreement": None,
        "kappa": None,
        "alpha": None,
    }
    assert summarize({1: {"rita": "accept"}})["percent_agreement"] is None


# --- invariance properties -----------------------------------------------------------------------------------

RATERS = ["r1", "r2", "r3", "r4"]
CATEGORIES = [0, 1, 2, 3]

reviewed_units = st.dictionaries(
    keys=st.integers(min_value=0, max_value=30),
    values=st.dictionaries(keys=st.sampled_from(RATERS), values=st.sampled_from(CATEGORIES), max_size=len(RATERS)),
    max_size=25,
)


@given(reviewed_units, st.permutations(CATEGORIES), st.permutations(RATERS), st.randoms(use_true_random=False))
def test_alpha_and_summary_ignore_labels_and_order(units, categories, raters, random):
    relabel = dict(zip(CATEGORIES, categories, strict=True))
    rename = dict(zip(RATERS, raters, strict=True))
    unit_ids = list(units)
    random.shuffle(unit_ids)
    transformed = {}
    for unit in unit_ids:
        ratings = list(units[unit].items())
        random.shuffle(ratings)  # the order raters appear in within a unit
        transformed[f"unit-{unit}"] = {rename[rater]: relabel[value] for rater, value in ratings}

    assert krippendorff_alpha_nominal(transformed) == krippendorff_alpha_nominal(units)
    assert summarize(transformed) == summarize(units)
    agreement = agreement_with_majority(units)
    assert agreement_with_majority(transformed) == {rename[rater]: counts for rater, counts in agreement.items()}


@given(reviewed_units)
def test_alpha_is_at_most_one_and_agreements_never_exceed_comparisons(units):
    alpha = krippendorff_alpha_nominal(units)
    assert alpha is None or alpha <= 1.0
    for agreed, compared in agreement_with_majority(units).values():
        assert 0 <= agreed <= compared


@given(two_rater_pairs, st.permutations("abc"), st.randoms(use_true_random=False))
def test_kappa_ignores_labels_item_order_and_rater_order(pairs, letters, random):
    relabel = dict(zip("abc", letters, strict=True))
    shuffled = list(pairs)
    random.shuffle(shuffled)
    kappa = cohen_kappa(pairs)
    assert cohen_kappa([(relabel[a], relabel[b]) for a, b in shuffled]) == kappa
    assert cohen_kappa([(b, a) for a, b in pairs]) == kappa
    assert kappa is not None
    assert -1.0 <= kappa <= 1.0
