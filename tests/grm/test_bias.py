from workers.grm.bias import bias_diagnostics


def test_a_judge_that_always_picks_the_first_shown_response_shows_full_position_bias():
    samples = [
        ([9, 2], [0, 1], 0, [10, 50]),  # shown first, labelled best, shorter
        ([2, 9], [1, 0], 0, [10, 50]),  # shown first (response 2), not the best, longer
        ([2, 9], [1, 0], None, [10, 50]),  # unlabelled
        ([5, 5], [0, 1], 0, [10, 50]),  # a tie picks nothing
        (None, [0, 1], 0, [10, 50]),  # no scores
    ]
    report = bias_diagnostics(samples)
    assert report["first_shown_wins"] == {"rate": 1.0, "hits": 3, "total": 3}
    assert report["first_shown_wins_when_not_best"] == {"rate": 1.0, "hits": 1, "total": 1}
    assert report["longer_wins"] == {"rate": 2 / 3, "hits": 2, "total": 3}
    assert report["longer_wins_when_not_best"] == {"rate": 0.5, "hits": 1, "total": 2}
    assert report["chance"]["rate"] == 0.5


def test_equal_lengths_leave_the_length_rates_out_and_empty_input_gives_none():
    report = bias_diagnostics([([9, 2, 1], [2, 0, 1], 0, [5, 5, 1])])
    assert report["longer_wins"]["total"] == 0
    assert report["first_shown_wins"] == {"rate": 0.0, "hits": 0, "total": 1}
    assert report["chance"]["rate"] == 1 / 3
    assert bias_diagnostics([])["first_shown_wins"]["rate"] is None
