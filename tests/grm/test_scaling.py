"""The scaling report: values checked by hand, against a plain loop and on simulated judgments; exact
versus sampled points; bootstrap bands."""

import math
import random
from dataclasses import replace

import numpy as np
import pytest

from tests.bench.scaling import loop_curves
from workers.grm.metrics import roc_auc
from workers.grm.scaling import ReportQuery, default_ks, meta_order, metarm_rows, scaling_report, subset_draws

# Three labelled queries (n = 2). Meta order (highest first; invalid or unscored last, by sample order):
#   A: samples 1 (2.0), 2 (1.0), 0 (0.5)
#   B: sample 2 (1.0), then 0 (unscored) and 1 (a parse failure)
#   C: samples 0 (3.0), 3 (2.0), 1 (-1.0), 2 (-2.0)
A = ReportQuery(scores=[[8, 2], [7, 3], [1, 10]], best_index=0, rating=None, subset="chat", meta_scores=[0.5, 2.0, 1.0])
B = ReportQuery(scores=[[5, 5], None, [2, 6]], best_index=1, rating=None, subset="code", meta_scores=[None, 3.0, 1.0])
C = ReportQuery(
    scores=[[9, 1], [1, 9], [2, 8], [8, 2]],
    best_index=0,
    rating=None,
    subset="chat",
    meta_scores=[3.0, -1.0, -2.0, 2.0],
)


def values(curve):
    return {point["k"]: point["value"] for point in curve}


def test_default_ks():
    assert default_ks(8) == [1, 2, 4, 8]
    assert default_ks(6) == [1, 2, 4, 6]
    assert default_ks(1) == [1]
    assert scaling_report([A, B, C], bootstrap=0)["ks"] == [1, 2, 4]


def test_voting_by_hand_with_a_tie_an_invalid_sample_and_a_query_with_fewer_samples():
    # Expected Voting@k accuracy per query, over all size-k subsets (a tie earns 1/2, nothing valid 0):
    #   A  k=1: {0} right, {1} right, {2} wrong -> 2/3
    #      k=2: {0,1} 15:5 right, {0,2} 9:12 wrong, {1,2} 8:13 wrong -> 1/3;  k=3: 16:15 right -> 1
    #   B  k=1: {0} 5:5 tie 1/2, {1} invalid 0, {2} 2:6 right -> 1/2
    #      k=2: {0,1} tie 1/2, {0,2} 7:11 right, {1,2} 2:6 right -> 5/6;  k=3: 7:11 right -> 1
    #   C  k=1: samples 0 and 3 right -> 1/2
    #      k=2: {0,1} 10:10 1/2, {0,2} 1, {0,3} 1, {1,2} 0, {1,3} 0, {2,3} 10:10 1/2 -> 3/6 = 1/2
    #      k=3: {0,1,2} 12:18 0, {0,1,3} 1, {0,2,3} 1, {1,2,3} 0 -> 1/2;  k=4: 20:20 tie -> 1/2
    report = scaling_report([A, B, C], ks=[1, 2, 3, 4], bootstrap=0)
    assert (report["mode"], report["metric"], report["queries"]) == ("best", "accuracy", 3)
    voting = values(report["voting"])
    assert voting[1] == pytest.approx((2 / 3 + 1 / 2 + 1 / 2) / 3)  # 5/9
    assert voting[2] == pytest.approx((1 / 3 + 5 / 6 + 1 / 2) / 3)  # 5/9
    assert voting[3] == pytest.approx((1 + 1 + 1 / 2) / 3)  # 5/6
    assert voting[4] == pytest.approx(1 / 2)  # only C stores 4 samples
    assert [point["queries"] for point in report["voting"]] == [3, 3, 3, 1]
    assert all(point["exact"] and point["stderr"] is None for point in report["voting"])


def test_metarm_by_hand_keeps_the_top_half_by_meta_score():
    # MetaRM@k keeps max(1, k // 2) samples of each subset, highest meta score first:
    #   A  k=2: {0,1} keeps 1 (7:3) right, {0,2} keeps 2 (1:10) wrong, {1,2} keeps 1 right -> 2/3; k=3 keeps 1 -> 1
    #   B  k=2: {0,1} keeps 0 (both unranked: sample order) tie 1/2, {0,2} and {1,2} keep 2 right -> 5/6; k=3 -> 1
    #   C  k=2: keeps 0, 0, 0, 1, 3, 3 -> right, right, right, wrong, right, right -> 5/6
    #      k=3: keeps 0, 0, 0, 3 -> 1;  k=4: keeps the top half {0, 3}: 17:3 right -> 1 (Voting@4: a 20:20 tie)
    report = scaling_report([A, B, C], ks=[1, 2, 3, 4], bootstrap=0)
    metarm = values(report["metarm"])
    assert metarm[1] == pytest.approx(values(report["voting"])[1])  # one sample: nothing to drop
    assert metarm[2] == pytest.approx((2 / 3 + 5 / 6 + 5 / 6) / 3)  # 7/9
    assert metarm[3] == pytest.approx(1.0)
    assert metarm[4] == pytest.approx(1.0)


def test_subsets_get_their_own_curves():
    report = scaling_report([A, B, C], ks=[1, 2, 3, 4], bootstrap=0)
    assert set(report["subsets"]) == {"chat", "code"}
    chat, code = report["subsets"]["chat"], report["subsets"]["code"]
    assert (chat["queries"], code["queries"]) == (2, 1)
    # chat = A and C; code = B, which has no point at k = 4
    assert values(chat["voting"]) == pytest.approx({1: 7 / 12, 2: 5 / 12, 3: 3 / 4, 4: 1 / 2})
    assert values(code["voting"]) == pytest.approx({1: 1 / 2, 2: 5 / 6, 3: 1.0})
    assert values(code["metarm"]) == pytest.approx({1: 1 / 2, 2: 5 / 6, 3: 1.0})


def test_no_metarm_curve_without_meta_scores():
    plain = [ReportQuery(scores=query.scores, best_index=query.best_index, rating=None) for query in (A, B, C)]
    report = scaling_report(plain, bootstrap=0)
    assert "metarm" not in report
    assert report["subsets"] == {}


def test_a_query_whose_samples_all_failed_to_parse_scores_zero():
    failed = ReportQuery(scores=[None, None], best_index=2, rating=None)
    report = scaling_report([failed], bootstrap=0)
    assert values(report["voting"]) == {1: 0.0, 2: 0.0}


def test_three_responses_share_a_tie_three_ways():
    # k=1: {0} best alone 1, {1} a three-way tie 1/3; k=2: 9+4, 1+4, 1+4 -> best alone -> 1
    query = ReportQuery(scores=[[9, 1, 1], [4, 4, 4]], best_index=0, rating=None)
    assert values(scaling_report([query], bootstrap=0)["voting"]) == pytest.approx({1: (1 + 1 / 3) / 2, 2: 1.0})


def test_single_response_roc_auc_by_hand():
    # One response, a 0/1 rating. The voted score is the mean of the subset's valid scores (none valid:
    # lowest, -inf); a point is the ROC-AUC over every (query, subset) pair, each query weighing alike.
    p1 = ReportQuery(scores=[[1], [1], [0]], best_index=None, rating=1)
    p2 = ReportQuery(scores=[[0], [1], None], best_index=None, rating=1)
    n1 = ReportQuery(scores=[[0], [0], [1]], best_index=None, rating=0)
    n2 = ReportQuery(scores=[[0], None, None], best_index=None, rating=0)
    report = scaling_report([p1, p2, n1, n2], bootstrap=0)
    assert (report["mode"], report["metric"], report["ks"]) == ("single", "roc_auc", [1, 2, 3])
    auc = values(report["voting"])
    # k=1, voted scores per query: p1 {1, 1, 0}, p2 {0, 1, -inf}, n1 {0, 0, 1}, n2 {0, -inf, -inf}
    #   positives pooled: 1: 1/2, 0: 1/3, -inf: 1/6; negatives pooled: 1: 1/6, 0: 1/2, -inf: 1/3
    #   AUC = sum over a positive's value of P(negative below) + P(negative equal) / 2
    #       = 1/2 (5/6 + 1/12) + 1/3 (1/3 + 1/4) + 1/6 (1/6) = 11/24 + 7/36 + 1/36 = 49/72
    assert auc[1] == pytest.approx(49 / 72)
    # k=2 (pairs {0,1}, {0,2}, {1,2}): p1 {1, 1/2, 1/2}, p2 {1/2, 0, 1}, n1 {0, 1/2, 1/2}, n2 {0, 0, -inf}
    #   positives: 1: 1/3, 1/2: 1/2, 0: 1/6; negatives: 1/2: 1/3, 0: 1/2, -inf: 1/6
    #   AUC = 1/3 (1) + 1/2 (2/3 + 1/6) + 1/6 (1/6 + 1/4) = 24/72 + 30/72 + 5/72 = 59/72
    assert auc[2] == pytest.approx(59 / 72)
    # k=3: p1 2/3, p2 1/2 above n1 1/3, n2 0
    assert auc[3] == pytest.approx(1.0)
    # The same number from the project's ROC-AUC over the expanded (query, subset) pairs:
    expanded = [1, 1, 0, 0, 1, -math.inf, 0, 0, 1, 0, -math.inf, -math.inf]
    assert roc_auc(expanded, [1] * 6 + [0] * 6) == pytest.approx(49 / 72)


def test_single_mode_positive_rating_and_best_mode_precedence():
    rated = [ReportQuery(scores=[[score]], best_index=None, rating=score) for score in (1, 5, 10, 10)]
    report = scaling_report(rated, positive_rating=10, bootstrap=0)
    assert values(report["voting"]) == {1: 1.0}  # 10s (positive) above 1 and 5
    assert scaling_report([*rated, A], bootstrap=0)["mode"] == "best"  # rated n = 1 queries are not in it
    assert scaling_report([*rated, A], bootstrap=0)["queries"] == 1


def test_an_empty_report():
    report = scaling_report([ReportQuery(scores=[[3, 4]], best_index=None, rating=None)])
    assert (report["queries"], report["voting"], report["ks"]) == (0, [], [])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"within 1\.\.3"):
        scaling_report([A], ks=[4])
    with pytest.raises(ValueError, match="different numbers of responses"):
        scaling_report([ReportQuery(scores=[[1, 2], [1, 2, 3]], best_index=0, rating=None)])
    with pytest.raises(ValueError, match="meta scores"):
        scaling_report([ReportQuery(scores=[[1, 2]], best_index=0, rating=None, meta_scores=[1.0, 2.0])])


def test_meta_order_and_metarm_rows():
    valid = np.array([[True, True, False, True]])
    meta = np.array([[1.0, 5.0, 9.0, np.nan]])
    assert meta_order(valid, meta).tolist() == [[1, 0, 2, 3]]  # invalid (9.0) and unscored last, by index
    rows = np.array([[True, False, True, True, False, True]])
    assert metarm_rows(rows, 4).tolist() == [[True, False, True, False, False, False]]
    assert metarm_rows(rows[:, :3], 1).tolist() == [[True, False, False]]


def test_subset_draws_enumerate_few_and_sample_many_reproducibly():
    rows, exact = subset_draws(5, 2, max_subsets=10, seed=0)
    assert exact
    assert len(rows) == 10
    assert len({tuple(row) for row in rows.tolist()}) == 10
    assert (rows.sum(axis=1) == 2).all()
    rows, exact = subset_draws(5, 2, max_subsets=9, seed=3)
    assert not exact
    assert rows.shape == (9, 5)
    assert (rows.sum(axis=1) == 2).all()
    assert (subset_draws(5, 2, max_subsets=9, seed=3)[0] == rows).all()
    assert not (subset_draws(5, 2, max_subsets=9, seed=4)[0] == rows).all()


def random_queries(rng, count, *, stored=(3, 6), responses=(2, 3), meta=True):
    queries = []
    for index in range(count):
        k = rng.choice(stored)
        n = rng.choice(responses)
        scores = [None if rng.random() < 0.15 else [rng.randint(1, 4) for _ in range(n)] for _ in range(k)]
        metas = [None if rng.random() < 0.1 else rng.choice([0.0, 0.5, 1.0, rng.gauss(0, 1)]) for _ in range(k)]
        queries.append(
            ReportQuery(
                scores=scores,
                best_index=rng.randrange(n),
                rating=None,
                subset=f"s{index % 2}",
                meta_scores=metas if meta else None,
            )
        )
    return queries


@pytest.mark.parametrize("max_subsets", [512, 7])
def test_the_report_equals_a_plain_loop_over_the_same_subsets(max_subsets):
    # Mixed K (3 and 6) and n (2 and 3), parse failures, tied and missing meta scores; exact and sampled.
    queries = random_queries(random.Random(max_subsets), 300)
    report = scaling_report(queries, ks=[1, 2, 3, 4, 6], max_subsets=max_subsets, bootstrap=0, seed=5)
    loop = loop_curves(queries, [1, 2, 3, 4, 6], max_subsets=max_subsets, seed=5)
    for curve in ("voting", "metarm"):
        assert values(report[curve]) == pytest.approx(loop[curve], abs=1e-12)


def simulated(count, *, stored, p_correct, seed, meta_noise=1.0):
    """n = 2 judgments, each right with probability p_correct; ties 5%; meta score = right + noise."""
    rng = np.random.default_rng(seed)
    right = rng.random((count, stored)) < p_correct
    tie = rng.random((count, stored)) < 0.05
    high = rng.integers(6, 11, size=(count, stored))
    low = high - rng.integers(1, 5, size=(count, stored))
    queries = []
    for q in range(count):
        scores = []
        for s in range(stored):
            if tie[q, s]:
                scores.append([int(high[q, s])] * 2)
            else:
                scores.append([int(high[q, s]), int(low[q, s])] if right[q, s] else [int(low[q, s]), int(high[q, s])])
        meta = (right[q] & ~tie[q]) + rng.normal(0, meta_noise, size=stored)
        queries.append(ReportQuery(scores=scores, best_index=0, rating=None, meta_scores=meta.tolist()))
    return queries


def test_simulation_voting_rises_with_k_and_an_informative_meta_rm_beats_it():
    report = scaling_report(simulated(400, stored=16, p_correct=0.65, seed=1), bootstrap=0)
    voting, metarm = values(report["voting"]), values(report["metarm"])
    assert voting[1] < voting[4] < voting[16]
    assert voting[1] == pytest.approx(0.65 * 0.95 + 0.5 * 0.05, abs=0.03)
    for k in (8, 16):
        assert metarm[k] > voting[k] + 0.02


def test_sampled_points_have_a_standard_error_and_land_near_the_exact_value():
    queries = simulated(80, stored=12, p_correct=0.6, seed=2)
    exact = scaling_report(queries, ks=[1, 4, 12], max_subsets=512, bootstrap=0)  # C(12, 4) = 495
    sampled = scaling_report(queries, ks=[1, 4, 12], max_subsets=64, bootstrap=0, seed=7)
    for curve in ("voting", "metarm"):
        for point in exact[curve]:
            assert point["exact"]
            assert point["stderr"] is None
        by_k = {point["k"]: point for point in sampled[curve]}
        assert by_k[1]["exact"]
        assert by_k[12]["exact"]
        assert not by_k[4]["exact"]
        assert by_k[4]["stderr"] > 0
        assert abs(by_k[4]["value"] - values(exact[curve])[4]) < 4 * by_k[4]["stderr"]


def test_sampled_single_response_auc_lands_near_the_exact_value():
    rng = np.random.default_rng(3)
    queries = []
    for q in range(120):
        rating = q % 2
        scores = [[int(rng.random() < (0.7 if rating else 0.35))] if rng.random() > 0.05 else None for _ in range(10)]
        queries.append(
            ReportQuery(scores=scores, best_index=None, rating=rating, meta_scores=rng.normal(size=10).tolist())
        )
    exact = scaling_report(queries, ks=[3], max_subsets=512, bootstrap=0)  # C(10, 3) = 120
    sampled = scaling_report(queries, ks=[3], max_subsets=40, bootstrap=0, seed=11)
    for curve in ("voting", "metarm"):
        [exact_point], [sampled_point] = exact[curve], sampled[curve]
        assert exact_point["exact"]
        assert exact_point["stderr"] is None
        assert not sampled_point["exact"]
        assert sampled_point["stderr"] > 0
        assert abs(sampled_point["value"] - exact_point["value"]) < 4 * sampled_point["stderr"]
        assert 0.6 < exact_point["value"] < 0.95


def test_bootstrap_bands_contain_the_value_and_are_reproducible():
    queries = [
        replace(query, subset="odd" if index % 2 else "even")
        for index, query in enumerate(simulated(150, stored=8, p_correct=0.6, seed=4))
    ]
    report = scaling_report(queries, bootstrap=300, seed=9)
    sections = [report, *report["subsets"].values()]
    for section in sections:
        for curve in ("voting", "metarm"):
            for point in section[curve]:
                assert point["low"] <= point["value"] <= point["high"]
                assert point["high"] - point["low"] > 0
    assert scaling_report(queries, bootstrap=300, seed=9) == report
    assert scaling_report(queries, bootstrap=300, seed=10)["voting"] != report["voting"]
    assert all(point["low"] is None for point in scaling_report(queries, bootstrap=0)["voting"])


def test_bootstrap_band_of_a_single_response_auc():
    rng = np.random.default_rng(5)
    queries = [
        ReportQuery(
            scores=[[int(rng.random() < (0.8 if q % 2 else 0.3))] for _ in range(4)], best_index=None, rating=q % 2
        )
        for q in range(100)
    ]
    report = scaling_report(queries, bootstrap=200, seed=1)
    for point in report["voting"]:
        assert point["low"] < point["value"] < point["high"]
    assert scaling_report(queries, bootstrap=200, seed=1) == report


def test_single_response_queries_of_different_sizes_are_sampled_alike():
    # K = 3 and K = 4: for k = 2 both get max_subsets draws so that every query weighs alike.
    queries = [
        ReportQuery(scores=[[1], [0], [1]], best_index=None, rating=1),
        ReportQuery(scores=[[0], [0], [1], [0]], best_index=None, rating=0),
    ]
    report = scaling_report(queries, max_subsets=50, bootstrap=0)
    by_k = {point["k"]: point for point in report["voting"]}
    assert not by_k[2]["exact"]
    assert by_k[2]["stderr"] is not None
    assert 4 not in by_k  # only the K = 4 query, a negative: no ROC-AUC without both classes


def test_a_runs_k_meta_sets_how_many_samples_metarm_keeps():
    # Meta order: samples 0, 1, 3, 2. Keeping two (the default k/2 at k = 4) ties 10 to 10: credit 1/2;
    # keeping one (a run's k_meta = 1 of its 4 samples) keeps sample 0 alone, which is right.
    query = ReportQuery([[9, 1], [1, 9], [2, 8], [8, 2]], 0, None, meta_scores=[3.0, 2.5, -2.0, 2.0])
    default = scaling_report([query], ks=[4], bootstrap=0)
    one_of_four = scaling_report([query], ks=[4], bootstrap=0, meta_keep=(1, 4))
    assert default["metarm"][0]["value"] == pytest.approx(0.5)
    assert one_of_four["metarm"][0]["value"] == pytest.approx(1.0)
    assert one_of_four["meta_keep"] == [1, 4]
    with pytest.raises(ValueError, match="meta_keep"):
        scaling_report([query], meta_keep=(0, 4))
