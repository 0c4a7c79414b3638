"""Accuracy-vs-k curves: exact expectations over subsets, checked by hand."""

import pytest

from workers.grm.curves import QuerySamples, accuracy_curve, default_ks


def test_default_ks():
    assert default_ks(8) == [1, 2, 4, 8]
    assert default_ks(6) == [1, 2, 4, 6]
    assert default_ks(1) == [1]


def test_voting_curve_by_hand():
    # 3 samples: two pick response 0, one picks response 1 strongly.
    query = QuerySamples(scores=[[8, 2], [7, 3], [1, 10]], best_index=0)
    curve = accuracy_curve([query], ks=[1, 2, 3])
    assert curve[1] == pytest.approx(2 / 3)
    # pairs: {0,1}: 15 vs 5 right; {0,2}: 9 vs 12 wrong; {1,2}: 8 vs 13 wrong
    assert curve[2] == pytest.approx(1 / 3)
    assert curve[3] == pytest.approx(1.0)  # 8+7+1 = 16 against 2+3+10 = 15


def test_ties_earn_the_tie_break_chance_and_invalid_samples_do_not_vote():
    query = QuerySamples(scores=[[5, 5], None], best_index=1)
    curve = accuracy_curve([query], ks=[1, 2])
    assert curve[1] == pytest.approx(0.25)  # {0}: tie -> 1/2; {1}: nothing valid -> 0
    assert curve[2] == pytest.approx(0.5)


def test_meta_curve_keeps_the_best_half_by_meta_score():
    query = QuerySamples(scores=[[9, 1], [1, 9], [2, 8], [8, 2]], best_index=0, meta_scores=[3.0, -1.0, -2.0, 2.0])
    meta = accuracy_curve([query], ks=[4], meta=True)
    voting = accuracy_curve([query], ks=[4])
    assert meta[4] == pytest.approx(1.0)  # keeps samples 0 and 3: 17 vs 3
    assert voting[4] == pytest.approx(0.5)  # 20 vs 20: a tie


def test_sampled_subsets_approximate_the_exact_value():
    scores = [[9, 1] if i % 3 else [1, 9] for i in range(20)]
    query = QuerySamples(scores=scores, best_index=0)
    exact = accuracy_curve([query], ks=[3], max_subsets=10_000)[3]
    sampled = accuracy_curve([query], ks=[3], max_subsets=400, seed=1)[3]
    assert abs(exact - sampled) < 0.08
    assert accuracy_curve([query], ks=[3], max_subsets=400, seed=1) == accuracy_curve(
        [query], ks=[3], max_subsets=400, seed=1
    )


def test_k_beyond_the_stored_samples_is_refused():
    with pytest.raises(ValueError, match="outside"):
        accuracy_curve([QuerySamples(scores=[[1, 2]], best_index=0)], ks=[2])


def test_a_query_whose_samples_all_failed_to_parse_scores_zero():
    query = QuerySamples(scores=[None, None], best_index=2)
    assert accuracy_curve([query], ks=[1, 2]) == {1: 0.0, 2: 0.0}
