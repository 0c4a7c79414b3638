"""Voting@k, MetaRM@k, Eq. 10 and the RFT rules, with hand-checked values."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.grm.prompts import sample_permutation, to_original_order
from workers.grm.rft import RftDecision, is_correct, rft_decisions
from workers.grm.voting import default_k_meta, meta_vote, top_choice, vote, vote_entropy, voted_rating


def test_voting_sums_valid_samples():
    result = vote([[8, 3], [6, 7], [9, 2]], 2, seed=0)
    assert result.totals == [23, 12]
    assert result.best_index == 0
    assert not result.tie_broken
    assert result.voters == 3


def test_no_valid_sample_chooses_nothing():
    assert vote([], 3, seed=0).best_index is None


def test_ties_are_broken_at_random_reproducibly_not_by_position():
    tie = [[5, 5, 1]]
    picks = Counter(vote(tie, 3, seed=seed).best_index for seed in range(400))
    assert set(picks) == {0, 1}
    assert 150 < picks[0] < 250
    assert vote(tie, 3, seed=7) == vote(tie, 3, seed=7)
    assert vote(tie, 3, seed=7).tie_broken


def test_meta_vote_keeps_the_top_k_meta_samples():
    scores = [[9, 1], [2, 8], [3, 7], [1, 9]]
    meta = [-15.78, 1.31, 0.5, -2.0]
    result = meta_vote(scores, meta, 2, k_meta=2, seed=0)
    assert result.totals == [5, 15]
    assert result.best_index == 1
    assert result.voters == 2
    assert default_k_meta(8) == 4
    assert default_k_meta(1) == 1


@pytest.mark.parametrize(
    ("scores", "rating"),
    [
        ([[1], [1], [0]], 1),  # mean 2/3
        ([[0], [0], [1]], 0),  # mean 1/3
        ([[7], [7], [8]], 7),  # 7.33
        ([[8], [8], [7]], 8),  # 7.67
        ([[6]], 6),
        ([], None),  # no valid sample: no rating
    ],
)
def test_voted_rating_is_the_mean_score_rounded(scores, rating):
    assert voted_rating(vote(scores, 1, seed=0), seed=0) == rating


@pytest.mark.parametrize(
    ("scores", "sides"), [([[1], [0]], {0, 1}), ([[7], [8]], {7, 8}), ([[1], [0], [1], [0]], {0, 1})]
)
def test_a_mean_halfway_between_two_scores_goes_either_way_by_seed(scores, sides):
    """GRM_SPEC 5: ties are broken at random with a recorded seed, never toward one side."""
    result = vote(scores, 1, seed=0)
    outcomes = {voted_rating(result, seed=seed) for seed in range(40)}
    assert outcomes == sides
    assert voted_rating(result, seed=3) == voted_rating(result, seed=3)


def test_voted_rating_needs_one_response():
    assert voted_rating(vote([[7, 3]], 2, seed=0), seed=0) is None


def test_vote_entropy():
    assert vote_entropy([[9, 1], [8, 2]]) == 0.0
    assert vote_entropy([[9, 1], [1, 9]]) == pytest.approx(1.0)
    assert vote_entropy([[5, 5]]) == pytest.approx(1.0)
    assert vote_entropy([]) == 0.0


def test_top_choice_is_the_unique_highest_score_or_none():
    assert top_choice([3, 9, 4]) == 1
    assert top_choice([7]) == 0
    assert top_choice([9, 9, 4]) is None  # a shared top picks nothing
    assert top_choice([]) is None
    assert top_choice(None) is None


@given(st.lists(st.integers(1, 10), min_size=1, max_size=6))
def test_top_choice_is_the_response_scored_above_every_other(scores):
    choice = top_choice(scores)
    above_all = [i for i, score in enumerate(scores) if all(score > other for j, other in enumerate(scores) if j != i)]
    assert choice == (above_all[0] if above_all else None)
    if len(scores) >= 2:  # Eq. 10 calls a sample correct exactly when it ranks the labelled best first
        assert all(is_correct(scores, best_index=i, rating=None) is (choice == i) for i in range(len(scores)))


@pytest.mark.parametrize(
    ("scores", "best", "rating", "expected"),
    [
        ([8, 3], 0, None, True),
        ([8, 8], 0, None, False),
        ([3, 8], 0, None, False),
        ([4, 9, 9], 1, None, False),
        ([4, 9, 8], 1, None, True),
        ([7], None, 7, True),
        ([6], None, 7, False),
        ([1], None, 1, True),  # a 0/1 correctness label (the single-response template)
        ([0], None, 1, False),
        ([0], None, 0, True),
        (None, None, 0, False),
        (None, 0, None, False),
        ([8, 3], None, None, None),
    ],
)
def test_eq10_correctness(scores, best, rating, expected):
    assert is_correct(scores, best_index=best, rating=rating) is expected


def test_rft_rejects_incorrect_and_drops_too_easy_queries():
    assert rft_decisions([True, False, True]) == [RftDecision.ACCEPT, RftDecision.REJECT, RftDecision.ACCEPT]
    assert rft_decisions([True, True, True]) == [RftDecision.TOO_EASY] * 3
    assert rft_decisions([False, False, False]) == [RftDecision.REJECT] * 3
    assert rft_decisions([True], hinted=True) == [RftDecision.ACCEPT]
    assert rft_decisions([False], hinted=True) == [RftDecision.REJECT]
    assert rft_decisions([None, True]) == [RftDecision.REJECT, RftDecision.ACCEPT]


def test_permutations_are_seeded_per_sample_and_cover_orders():
    first = sample_permutation(4, seed=1, query_key="q", sample_index=0)
    assert sorted(first) == [0, 1, 2, 3]
    assert sample_permutation(4, seed=1, query_key="q", sample_index=0) == first
    orders = {tuple(sample_permutation(3, seed=1, query_key="q", sample_index=i)) for i in range(60)}
    assert len(orders) == 6


def test_scores_map_back_to_the_original_order():
    # shown order: original 2, then 0, then 1; the model scored what it saw as 9, 4, 6
    assert to_original_order([9, 4, 6], [2, 0, 1]) == [4, 6, 9]


@st.composite
def judged_query(draw):
    n = draw(st.integers(2, 5))
    k = draw(st.integers(1, 6))
    # a "judge" that scores each original response by its own fixed quality, whatever the order shown
    quality = draw(st.lists(st.integers(1, 10), min_size=n, max_size=n))
    permutations = [draw(st.permutations(range(n))) for _ in range(k)]
    return n, quality, permutations, draw(st.integers(0, 2**31))


@given(judged_query(), st.data())
def test_permuting_responses_before_sampling_never_changes_the_mapped_back_vote(case, data):
    n, quality, permutations, seed = case
    shown_scores = [[quality[original] for original in perm] for perm in permutations]
    mapped = [to_original_order(scores, perm) for scores, perm in zip(shown_scores, permutations, strict=True)]
    other = [data.draw(st.permutations(range(n))) for _ in permutations]
    other_scores = [[quality[original] for original in perm] for perm in other]
    mapped_other = [to_original_order(scores, perm) for scores, perm in zip(other_scores, other, strict=True)]
    assert vote(mapped, n, seed=seed) == vote(mapped_other, n, seed=seed)
    assert vote(mapped, n, seed=seed).totals == [q * len(permutations) for q in quality]
