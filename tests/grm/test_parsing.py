"""Score extraction and sections (GRM_SPEC section 4), edge case by edge case."""

import pytest

from workers.grm.parsing import ParseStatus, parse_judgment, parse_scores

FULL = "Specific Criteria: accuracy (60%), clarity (40%).\nAnalysis: Response 1 is right.\nScores: \\boxed{8, 3}"


def test_a_well_formed_judgment():
    judgment = parse_judgment(FULL, 2)
    assert judgment.principles == "accuracy (60%), clarity (40%)."
    assert judgment.critique == "Response 1 is right."
    assert judgment.scores == [8, 3]
    assert judgment.status is ParseStatus.OK
    assert judgment.valid
    assert not judgment.sections_missing


@pytest.mark.parametrize(
    ("text", "n", "scores", "status"),
    [
        ("no box at all", 2, None, ParseStatus.NO_SCORES),
        ("\\boxed{3, 9} then revised \\boxed{7, 2}", 2, [7, 2], ParseStatus.OK),
        ("Scores: [[4, 6]]", 2, [4, 6], ParseStatus.OK),
        ("\\boxed{1, 1} ... final [[9, 2]]", 2, [9, 2], ParseStatus.OK),
        ("[[9, 2]] ... final \\boxed{1, 5}", 2, [1, 5], ParseStatus.OK),
        ("\\boxed{7}", 2, None, ParseStatus.WRONG_COUNT),
        ("\\boxed{7, 8, 9}", 2, None, ParseStatus.WRONG_COUNT),
        ("\\boxed{}", 2, None, ParseStatus.WRONG_COUNT),
        ("\\boxed{0, 5}", 2, None, ParseStatus.OUT_OF_RANGE),
        ("\\boxed{11, 5}", 2, None, ParseStatus.OUT_OF_RANGE),
        ("\\boxed{7.5, 5}", 2, None, ParseStatus.NOT_INTEGER),
        ("\\boxed{7.0, 5}", 2, None, ParseStatus.NOT_INTEGER),
        ("\\boxed{x, x}", 2, None, ParseStatus.NOT_INTEGER),
        ("\\boxed{ 10 ,1 }", 2, [10, 1], ParseStatus.OK),
        ("\\boxed{6}", 1, [6], ParseStatus.OK),
        ("\\boxed{2, 3, 4, 5}", 4, [2, 3, 4, 5], ParseStatus.OK),
        ("\\boxed{7, 8", 2, None, ParseStatus.NO_SCORES),
    ],
)
def test_score_edge_cases(text, n, scores, status):
    assert parse_scores(text, n) == (scores, status)


@pytest.mark.parametrize(
    ("text", "scores", "status"),
    [
        ("Scores: \\boxed{0}", [0], ParseStatus.OK),
        ("Scores: \\boxed{1}", [1], ParseStatus.OK),
        ("Scores: \\boxed{2}", None, ParseStatus.OUT_OF_RANGE),
        ("Scores: \\boxed{-1}", None, ParseStatus.OUT_OF_RANGE),
        ("Scores: \\boxed{0, 1}", None, ParseStatus.WRONG_COUNT),
    ],
)
def test_the_single_response_range_zero_to_one(text, scores, status):
    assert parse_scores(text, 1, low=0, high=1) == (scores, status)
    assert parse_judgment(text, 1, low=0, high=1).scores == scores


def test_the_default_range_refuses_zero_and_a_wider_range_accepts_it():
    assert parse_scores("\\boxed{0, 10}", 2) == (None, ParseStatus.OUT_OF_RANGE)
    assert parse_scores("\\boxed{0, 10}", 2, low=0, high=10) == ([0, 10], ParseStatus.OK)
    assert parse_judgment("\\boxed{7, 11}", 2, low=1, high=100).scores == [7, 11]


def test_missing_sections_are_empty_and_flagged_not_guessed():
    judgment = parse_judgment("I like the first one. \\boxed{9, 2}", 2)
    assert (judgment.principles, judgment.critique) == ("", "")
    assert judgment.sections_missing
    assert judgment.valid


def test_principles_stop_at_scores_when_analysis_is_missing():
    judgment = parse_judgment("Specific Criteria: be right.\nScores: \\boxed{9, 2}", 2)
    assert judgment.principles == "be right."
    assert judgment.critique == ""
    assert judgment.sections_missing


def test_a_parse_failure_keeps_its_sections():
    judgment = parse_judgment("Specific Criteria: p\nAnalysis: a\nScores: 8 and 3", 2)
    assert judgment.status is ParseStatus.NO_SCORES
    assert (judgment.principles, judgment.critique) == ("p", "a")
