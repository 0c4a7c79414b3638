"""Score extraction and sections (GRM_SPEC section 4), edge case by edge case."""

import pytest

from workers.grm.parsing import ParseStatus, Part, anatomy, parse_judgment, parse_scores

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


# anatomy: the raw output cut into what the parser read, for the reviewer's "What the model wrote".


def _kinds(parts):
    return [(part.kind, part.text) for part in parts if part.kind not in ("gave_up", "forced")]


def _notes(parts, kind="gave_up"):
    return [part.note for part in parts if part.kind == kind]


def test_anatomy_of_a_well_formed_output_highlights_each_section_and_the_score_line():
    text = "Specific Criteria: be right\nAnalysis: the first is right\nScores: \\boxed{8, 3}"
    parts = anatomy(text, 2)
    assert "".join(part.text for part in parts) == text
    assert _kinds(parts) == [
        ("principles", "Specific Criteria: be right\n"),
        ("critique", "Analysis: the first is right\n"),
        ("scores", "Scores: \\boxed{8, 3}"),
    ]
    assert _notes(parts) == []


def test_anatomy_marks_where_parsing_gave_up_and_why():
    nothing = anatomy("I cannot decide.", 2)
    assert _kinds(nothing) == [("text", "I cannot decide.")]
    assert _notes(nothing) == [
        "no “Specific Criteria:” heading: the principles are empty",
        "no “Analysis:” heading: the critique is empty",
        "no \\boxed{…} or [[…]] with the scores: parsing gave up at the end",
    ]
    assert nothing[-1].kind == "gave_up"  # at the end, where the parser stopped looking

    for box, why in [
        ("\\boxed{8}", "does not hold 2 comma-separated scores"),
        ("\\boxed{8, x}", "other than whole numbers"),
        ("\\boxed{8, 11}", "outside 1 to 10"),
    ]:
        parts = anatomy(f"Specific Criteria: a\nAnalysis: b\nScores: {box} and more", 2)
        assert "".join(part.text for part in parts).endswith(" and more")
        at = next(i for i, part in enumerate(parts) if part.kind == "gave_up")
        assert parts[at - 1] == Part("scores", f"Scores: {box}")
        assert why in parts[at].note


def test_anatomy_uses_the_last_box_as_the_parser_does_and_reads_a_box_without_a_heading():
    text = "Analysis: maybe \\boxed{1, 2} then\n[[7, 4]]"
    parts = anatomy(text, 2)
    assert ("scores", "[[7, 4]]") in _kinds(parts)
    assert ("critique", "Analysis: maybe \\boxed{1, 2} then\n") in _kinds(parts)


def test_anatomy_of_forced_scores_marks_where_the_models_own_text_ends():
    own = "Specific Criteria: a\nAnalysis: b, and then the model rambled"
    text = own + "\nScores: \\boxed{7, 2}"
    parts = anatomy(text, 2, forced=True)
    at = next(i for i, part in enumerate(parts) if part.kind == "forced")
    assert "".join(part.text for part in parts[:at]) == own
    assert "".join(part.text for part in parts) == text
    merged: list[Part] = []  # without the marker, the parts are the unforced anatomy's
    for part in parts:
        if part.kind == "forced":
            continue
        if merged and merged[-1].kind == part.kind and not part.note:
            merged[-1] = Part(part.kind, merged[-1].text + part.text)
        else:
            merged.append(part)
    assert merged == anatomy(text, 2, forced=False)
