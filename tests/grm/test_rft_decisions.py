"""The rejective fine-tuning rules (GRM_SPEC 6) and issue 11's precedence of people over them.

One table holds every combination of the rule's outcome and what reviewers and an admin said, with the
decision, reason and source expected for each.
"""

from __future__ import annotations

import itertools

import pytest

from workers.grm.rft import (
    RULE_REASONS,
    Decision,
    FinalDecision,
    Reason,
    Source,
    Verdict,
    final_decision,
    rule_reasons,
)

ACCEPT, REJECT, HELD = Decision.ACCEPT, Decision.REJECT, Decision.HELD
RULE, REVIEWER, ADJUDICATION = Source.RULE, Source.REVIEWER, Source.ADJUDICATION
CORRECT, INCORRECT, PARSE_FAILURE = Reason.CORRECT, Reason.INCORRECT, Reason.PARSE_FAILURE
TOO_EASY, HINTED_INCORRECT, UNLABELLED = Reason.TOO_EASY, Reason.HINTED_INCORRECT, Reason.UNLABELLED
REVIEWER_ACCEPT, REVIEWER_REJECT = Reason.REVIEWER_ACCEPT, Reason.REVIEWER_REJECT
DISAGREE, ADJUDICATED = Reason.REVIEWERS_DISAGREE, Reason.ADJUDICATED

accept, accept_noted, reject = Verdict(accept=True), Verdict(accept=True, noted=True), Verdict(accept=False)

# What people said: the reviewers' verdicts and the admin's adjudication (True accept, False reject, None none).
HUMAN: dict[str, tuple[tuple[Verdict, ...], bool | None]] = {
    "no reviewer": ((), None),
    "one accept, no note": ((accept,), None),
    "one accept with a note": ((accept_noted,), None),
    "two accepts, no note": ((accept, accept), None),
    "one reject": ((reject,), None),
    "reject and accept, not adjudicated": ((reject, accept_noted), None),
    "disagreement adjudicated accept": ((reject, accept), True),
    "disagreement adjudicated reject": ((accept_noted, reject), False),
    "adjudicated, reviewers agree now": ((reject, reject), True),
}
RULES = [CORRECT, INCORRECT, PARSE_FAILURE, TOO_EASY, HINTED_INCORRECT, UNLABELLED]

# (what people said, the rule's outcome, the expected decision, reason and source)
TABLE = [
    # Nobody looked: the rule decides; only a correct sample of a query that is not too easy is kept.
    ("no reviewer", CORRECT, ACCEPT, CORRECT, RULE),
    ("no reviewer", INCORRECT, REJECT, INCORRECT, RULE),
    ("no reviewer", PARSE_FAILURE, REJECT, PARSE_FAILURE, RULE),
    ("no reviewer", TOO_EASY, REJECT, TOO_EASY, RULE),
    ("no reviewer", HINTED_INCORRECT, REJECT, HINTED_INCORRECT, RULE),
    ("no reviewer", UNLABELLED, REJECT, UNLABELLED, RULE),
    # An accept without a note confirms a kept sample and rescues no rejected one.
    ("one accept, no note", CORRECT, ACCEPT, REVIEWER_ACCEPT, REVIEWER),
    ("one accept, no note", INCORRECT, REJECT, INCORRECT, RULE),
    ("one accept, no note", PARSE_FAILURE, REJECT, PARSE_FAILURE, RULE),
    ("one accept, no note", TOO_EASY, REJECT, TOO_EASY, RULE),
    ("one accept, no note", HINTED_INCORRECT, REJECT, HINTED_INCORRECT, RULE),
    ("one accept, no note", UNLABELLED, REJECT, UNLABELLED, RULE),
    # An accept with a note saying why rescues whatever the rule rejected.
    ("one accept with a note", CORRECT, ACCEPT, REVIEWER_ACCEPT, REVIEWER),
    ("one accept with a note", INCORRECT, ACCEPT, REVIEWER_ACCEPT, REVIEWER),
    ("one accept with a note", PARSE_FAILURE, ACCEPT, REVIEWER_ACCEPT, REVIEWER),
    ("one accept with a note", TOO_EASY, ACCEPT, REVIEWER_ACCEPT, REVIEWER),
    ("one accept with a note", HINTED_INCORRECT, ACCEPT, REVIEWER_ACCEPT, REVIEWER),
    ("one accept with a note", UNLABELLED, ACCEPT, REVIEWER_ACCEPT, REVIEWER),
    # More accepts without a note are still no reason to overturn the rule.
    ("two accepts, no note", CORRECT, ACCEPT, REVIEWER_ACCEPT, REVIEWER),
    ("two accepts, no note", INCORRECT, REJECT, INCORRECT, RULE),
    ("two accepts, no note", PARSE_FAILURE, REJECT, PARSE_FAILURE, RULE),
    ("two accepts, no note", TOO_EASY, REJECT, TOO_EASY, RULE),
    ("two accepts, no note", HINTED_INCORRECT, REJECT, HINTED_INCORRECT, RULE),
    ("two accepts, no note", UNLABELLED, REJECT, UNLABELLED, RULE),
    # A reviewer's reject always wins.
    ("one reject", CORRECT, REJECT, REVIEWER_REJECT, REVIEWER),
    ("one reject", INCORRECT, REJECT, REVIEWER_REJECT, REVIEWER),
    ("one reject", PARSE_FAILURE, REJECT, REVIEWER_REJECT, REVIEWER),
    ("one reject", TOO_EASY, REJECT, REVIEWER_REJECT, REVIEWER),
    ("one reject", HINTED_INCORRECT, REJECT, REVIEWER_REJECT, REVIEWER),
    ("one reject", UNLABELLED, REJECT, REVIEWER_REJECT, REVIEWER),
    # Reviewers who disagree hold the sample until an admin adjudicates, whatever the rule said.
    ("reject and accept, not adjudicated", CORRECT, HELD, DISAGREE, REVIEWER),
    ("reject and accept, not adjudicated", INCORRECT, HELD, DISAGREE, REVIEWER),
    ("reject and accept, not adjudicated", PARSE_FAILURE, HELD, DISAGREE, REVIEWER),
    ("reject and accept, not adjudicated", TOO_EASY, HELD, DISAGREE, REVIEWER),
    ("reject and accept, not adjudicated", HINTED_INCORRECT, HELD, DISAGREE, REVIEWER),
    ("reject and accept, not adjudicated", UNLABELLED, HELD, DISAGREE, REVIEWER),
    # The admin's adjudication decides a disagreement, either way.
    ("disagreement adjudicated accept", CORRECT, ACCEPT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated accept", INCORRECT, ACCEPT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated accept", PARSE_FAILURE, ACCEPT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated accept", TOO_EASY, ACCEPT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated accept", HINTED_INCORRECT, ACCEPT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated accept", UNLABELLED, ACCEPT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated reject", CORRECT, REJECT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated reject", INCORRECT, REJECT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated reject", PARSE_FAILURE, REJECT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated reject", TOO_EASY, REJECT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated reject", HINTED_INCORRECT, REJECT, ADJUDICATED, ADJUDICATION),
    ("disagreement adjudicated reject", UNLABELLED, REJECT, ADJUDICATED, ADJUDICATION),
    # An adjudication outlives the disagreement it settled only as a record: the reviewers decide again.
    ("adjudicated, reviewers agree now", CORRECT, REJECT, REVIEWER_REJECT, REVIEWER),
    ("adjudicated, reviewers agree now", INCORRECT, REJECT, REVIEWER_REJECT, REVIEWER),
    ("adjudicated, reviewers agree now", PARSE_FAILURE, REJECT, REVIEWER_REJECT, REVIEWER),
    ("adjudicated, reviewers agree now", TOO_EASY, REJECT, REVIEWER_REJECT, REVIEWER),
    ("adjudicated, reviewers agree now", HINTED_INCORRECT, REJECT, REVIEWER_REJECT, REVIEWER),
    ("adjudicated, reviewers agree now", UNLABELLED, REJECT, REVIEWER_REJECT, REVIEWER),
]


def test_the_table_covers_every_rule_outcome_and_every_human_verdict():
    combinations = [(human, rule) for human, rule, *_ in TABLE]
    assert len(combinations) == len(set(combinations)), "a combination is in the table twice"
    assert set(combinations) == set(itertools.product(HUMAN, RULES))
    assert list(RULE_REASONS) == RULES  # every outcome the rule can give


@pytest.mark.parametrize(
    ("human", "rule", "decision", "reason", "source"), TABLE, ids=[f"{rule}-{human}" for human, rule, *_ in TABLE]
)
def test_final_decision(human, rule, decision, reason, source):
    verdicts, adjudication = HUMAN[human]
    assert final_decision(rule, verdicts, adjudication=adjudication) == FinalDecision(decision, reason, source)


def test_an_accept_with_a_note_among_silent_ones_rescues():
    assert final_decision(INCORRECT, [accept, accept_noted]) == FinalDecision(ACCEPT, REVIEWER_ACCEPT, REVIEWER)


def test_an_adjudication_without_reviewers_is_ignored():
    assert final_decision(INCORRECT, [], adjudication=True) == FinalDecision(REJECT, INCORRECT, RULE)


@pytest.mark.parametrize(
    ("correct", "parsed", "hinted", "expected"),
    [
        # Non-hinted: wrong samples are rejected, right ones kept...
        ([True, False, True], [True, True, True], False, [CORRECT, INCORRECT, CORRECT]),
        # ...unless every sample is right: the query is too easy and all of them go.
        ([True, True, True], [True, True, True], False, [TOO_EASY] * 3),
        ([True], [True], False, [TOO_EASY]),
        # A parse failure is wrong (Eq. 10) and says so; it also keeps the query from being too easy.
        ([True, False], [True, False], False, [CORRECT, PARSE_FAILURE]),
        ([False, False], [False, False], False, [PARSE_FAILURE] * 2),
        ([False, False, False], [True, True, True], False, [INCORRECT] * 3),
        # Hinted (one sample with the answer named): rejected when still wrong, never too easy.
        ([True], [True], True, [CORRECT]),
        ([False], [True], True, [HINTED_INCORRECT]),
        ([False], [False], True, [PARSE_FAILURE]),
        # Unlabelled queries cannot be judged: rejected as unlabelled (a parse failure says that first).
        ([None, None], [True, True], False, [UNLABELLED] * 2),
        ([None, None], [True, False], False, [UNLABELLED, PARSE_FAILURE]),
        ([], [], False, []),
    ],
)
def test_rule_reasons(correct, parsed, hinted, expected):
    assert rule_reasons(correct, parsed, hinted=hinted) == expected
