"""Correctness of one sample (Eq. 10) and the rejective fine-tuning rules (GRM_SPEC section 6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


def is_correct(scores: Sequence[int] | None, *, best_index: int | None, rating: int | None) -> bool | None:
    """Eq. 10. n >= 2: the labelled best scores strictly above every other (a tie is incorrect).
    n = 1: the score equals the labelled rating (a 0/1 correctness label included). None when there is no
    label; a parse failure is False.
    """
    if best_index is None and rating is None:
        return None
    if scores is None:
        return False
    if best_index is not None:
        return all(scores[best_index] > score for i, score in enumerate(scores) if i != best_index)
    return len(scores) == 1 and scores[0] == rating


class RftDecision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    TOO_EASY = "too_easy"


def rft_decisions(correct: Sequence[bool | None], *, hinted: bool = False) -> list[RftDecision]:
    """Keep or drop each of one query's samples for rejective fine-tuning.

    Non-hinted: incorrect samples are rejected; if every sample is correct the query is too easy and
    all are dropped. Hinted (one sample with the answer named): rejected if incorrect, never too easy.
    Unlabelled samples (None) cannot be judged and are rejected.
    """
    if not correct:
        return []
    if not hinted and all(value is True for value in correct):
        return [RftDecision.TOO_EASY] * len(correct)
    return [RftDecision.ACCEPT if value is True else RftDecision.REJECT for value in correct]


class Reason(StrEnum):
    """Why a sample is kept or dropped: the rule's reasons (GRM_SPEC 6), then the people's."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    PARSE_FAILURE = "parse_failure"
    TOO_EASY = "too_easy"
    HINTED_INCORRECT = "hinted_incorrect"
    UNLABELLED = "unlabelled"
    REVIEWER_ACCEPT = "reviewer_accept"
    REVIEWER_REJECT = "reviewer_reject"
    REVIEWERS_DISAGREE = "reviewers_disagree"
    ADJUDICATED = "adjudicated"


RULE_REASONS = (
    Reason.CORRECT,
    Reason.INCORRECT,
    Reason.PARSE_FAILURE,
    Reason.TOO_EASY,
    Reason.HINTED_INCORRECT,
    Reason.UNLABELLED,
)


class Decision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    HELD = "held"  # reviewers disagree and no admin has adjudicated


class Source(StrEnum):
    RULE = "rule"
    REVIEWER = "reviewer"
    ADJUDICATION = "adjudication"


def rule_reasons(correct: Sequence[bool | None], parsed: Sequence[bool], *, hinted: bool = False) -> list[Reason]:
    """The automatic outcome of each of one query's samples in one run, with its reason.

    `rft_decisions` decides; the reason says why: a parse failure, an unlabelled query, a hinted sample
    that is still wrong, or a query every sample got right (too easy, dropped whole).
    """
    reasons = []
    for decision, value, ok in zip(rft_decisions(correct, hinted=hinted), correct, parsed, strict=True):
        if decision is RftDecision.ACCEPT:
            reasons.append(Reason.CORRECT)
        elif decision is RftDecision.TOO_EASY:
            reasons.append(Reason.TOO_EASY)
        elif not ok:
            reasons.append(Reason.PARSE_FAILURE)
        elif value is None:
            reasons.append(Reason.UNLABELLED)
        else:
            reasons.append(Reason.HINTED_INCORRECT if hinted else Reason.INCORRECT)
    return reasons


@dataclass(frozen=True)
class Verdict:
    """One reviewer's decision on a sample: accept or reject, and whether they wrote a note."""

    accept: bool
    noted: bool = False


@dataclass(frozen=True)
class FinalDecision:
    decision: Decision
    reason: Reason
    source: Source


def final_decision(
    rule: Reason, verdicts: Sequence[Verdict] = (), *, adjudication: bool | None = None
) -> FinalDecision:
    """The sample's decision once people have looked at it (issue 11's precedence, GRM_SPEC 6):

    - no reviewer: the rule decides (accept only when `rule` is CORRECT);
    - reviewers disagree (an accept and a reject): held until an admin adjudicates; the admin's
      `adjudication` (True accept, False reject) then decides;
    - reviewers reject: rejected, whatever the rule said;
    - reviewers accept: kept when the rule accepted; a rule's rejection is overturned only when an
      accepting reviewer wrote a note saying why, else the rule's rejection stands.
    """
    accepts = [verdict for verdict in verdicts if verdict.accept]
    rejects = [verdict for verdict in verdicts if not verdict.accept]
    if accepts and rejects:
        if adjudication is None:
            return FinalDecision(Decision.HELD, Reason.REVIEWERS_DISAGREE, Source.REVIEWER)
        return FinalDecision(
            Decision.ACCEPT if adjudication else Decision.REJECT, Reason.ADJUDICATED, Source.ADJUDICATION
        )
    if rejects:
        return FinalDecision(Decision.REJECT, Reason.REVIEWER_REJECT, Source.REVIEWER)
    if accepts and (rule is Reason.CORRECT or any(verdict.noted for verdict in accepts)):
        return FinalDecision(Decision.ACCEPT, Reason.REVIEWER_ACCEPT, Source.REVIEWER)
    return FinalDecision(Decision.ACCEPT if rule is Reason.CORRECT else Decision.REJECT, rule, Source.RULE)
