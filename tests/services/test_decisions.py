"""Each sample's rejective fine-tuning decision through real rows: the rule's outcome stored with the
samples, reviewers' annotations moving it, admins adjudicating disagreements, and the backfill."""

from __future__ import annotations

import pytest

from reviews.errors import AdjudicationInvalid
from reviews.models import Adjudication, Sample
from reviews.services.annotations import annotation_submit
from reviews.services.decisions import adjudicate, decisions_apply, decisions_backfill
from tests.factories import QueryFactory, RunFactory, SampleFactory, UserFactory
from tests.services.judged import judged, store

pytestmark = pytest.mark.django_db

RIGHT, WRONG = [9, 2], [2, 9]  # scores of two responses; the labelled best is the first


def outcome(sample: Sample) -> tuple[str, str, str, str]:
    sample.refresh_from_db()
    return sample.rule_reason, sample.decision, sample.decision_reason, sample.decision_source


@pytest.fixture
def run():
    return RunFactory.create(k=3)


def query_of(run, **label):
    return QueryFactory.create(dataset=run.dataset, **({"best_index": 0} | label))


def samples_of(run, query) -> list[Sample]:
    return list(Sample.objects.filter(run=run, query=query).order_by("sample_index"))


def test_stored_samples_get_the_rules_outcome(run):
    mixed, easy, unparsed = query_of(run), query_of(run), query_of(run)
    unlabelled = query_of(run, best_index=None)
    store(
        run,
        [
            judged(mixed, [RIGHT, WRONG, RIGHT]),
            judged(easy, [RIGHT, RIGHT, RIGHT]),
            judged(unparsed, [RIGHT, None, WRONG]),
            judged(unlabelled, [RIGHT, WRONG, None]),
        ],
    )
    assert [outcome(s) for s in samples_of(run, mixed)] == [
        ("correct", "accept", "correct", "rule"),
        ("incorrect", "reject", "incorrect", "rule"),
        ("correct", "accept", "correct", "rule"),
    ]
    assert [outcome(s) for s in samples_of(run, easy)] == [("too_easy", "reject", "too_easy", "rule")] * 3
    assert [outcome(s)[:2] for s in samples_of(run, unparsed)] == [
        ("correct", "accept"),
        ("parse_failure", "reject"),
        ("incorrect", "reject"),
    ]
    assert [outcome(s)[:2] for s in samples_of(run, unlabelled)] == [
        ("unlabelled", "reject"),
        ("unlabelled", "reject"),
        ("parse_failure", "reject"),
    ]


def test_hinted_samples_are_rejected_when_wrong_and_never_too_easy(run):
    right, wrong = query_of(run), query_of(run)
    store(run, [judged(right, [RIGHT], hinted=True), judged(wrong, [WRONG], hinted=True)])
    [kept] = samples_of(run, right)
    [dropped] = samples_of(run, wrong)
    assert kept.hinted
    assert dropped.hinted
    assert outcome(kept) == ("correct", "accept", "correct", "rule")
    assert outcome(dropped) == ("hinted_incorrect", "reject", "hinted_incorrect", "rule")


def test_annotations_move_the_decision(run, reviewer_user):
    query = query_of(run)
    store(run, [judged(query, [RIGHT, WRONG, WRONG])])
    right, wrong, other = samples_of(run, query)
    second = UserFactory.create(roles=["reviewer"])

    annotation_submit(reviewer=reviewer_user, sample=right, decision="reject")
    assert outcome(right) == ("correct", "reject", "reviewer_reject", "reviewer")

    annotation_submit(reviewer=reviewer_user, sample=wrong, decision="accept")  # no note: the rule stands
    assert outcome(wrong) == ("incorrect", "reject", "incorrect", "rule")
    annotation_submit(reviewer=reviewer_user, sample=wrong, decision="accept", note="The label is wrong here.")
    assert outcome(wrong) == ("incorrect", "accept", "reviewer_accept", "reviewer")

    annotation_submit(reviewer=second, sample=wrong, decision="reject")
    assert outcome(wrong) == ("incorrect", "held", "reviewers_disagree", "reviewer")
    assert outcome(other) == ("incorrect", "reject", "incorrect", "rule")  # untouched


@pytest.fixture
def held(run, reviewer_user) -> Sample:
    query = query_of(run)
    store(run, [judged(query, [RIGHT, WRONG, RIGHT])])
    sample = samples_of(run, query)[1]
    annotation_submit(reviewer=reviewer_user, sample=sample, decision="accept", note="Fine by me.")
    annotation_submit(reviewer=UserFactory.create(roles=["reviewer"]), sample=sample, decision="reject")
    assert outcome(sample)[1] == "held"
    return sample


@pytest.mark.parametrize(
    ("decision", "note", "field"),
    [("accept", "", "note"), ("reject", "   \n", "note"), ("maybe", "Why not.", "decision")],
)
def test_adjudication_refuses_bad_input_by_field(held, admin_user, decision, note, field):
    with pytest.raises(AdjudicationInvalid) as refused:
        adjudicate(sample=held, decision=decision, note=note, admin=admin_user)
    assert refused.value.field == field
    assert not Adjudication.objects.exists()
    assert outcome(held)[1] == "held"


def test_adjudication_refuses_samples_whose_reviewers_do_not_disagree(run, reviewer_user, admin_user):
    query = query_of(run)
    store(run, [judged(query, [RIGHT, WRONG, WRONG])])
    unreviewed, rejected, _ = samples_of(run, query)
    annotation_submit(reviewer=reviewer_user, sample=rejected, decision="reject")
    annotation_submit(reviewer=UserFactory.create(roles=["reviewer"]), sample=rejected, decision="reject")
    for sample in (unreviewed, rejected):
        with pytest.raises(AdjudicationInvalid, match="do not disagree") as refused:
            adjudicate(sample=sample, decision="accept", note="I say so.", admin=admin_user)
        assert refused.value.field == "sample"
    assert not Adjudication.objects.exists()


def test_adjudication_decides_a_held_sample_and_can_be_changed(held, admin_user, reviewer_user):
    adjudication = adjudicate(sample=held, decision="accept", note="  The critique is right.  ", admin=admin_user)
    assert (adjudication.note, adjudication.adjudicated_by) == ("The critique is right.", admin_user)
    assert outcome(held) == ("incorrect", "accept", "adjudicated", "adjudication")

    adjudicate(sample=held, decision="reject", note="On second thought: no.", admin=admin_user)
    assert Adjudication.objects.get().decision == "reject"
    assert outcome(held) == ("incorrect", "reject", "adjudicated", "adjudication")

    # The accepting reviewer changes their mind: no disagreement left, the adjudication no longer decides.
    annotation_submit(reviewer=reviewer_user, sample=held, decision="reject")
    assert outcome(held) == ("incorrect", "reject", "reviewer_reject", "reviewer")
    assert Adjudication.objects.filter(sample=held).exists()  # kept as a record

    # They disagree again later: the old adjudication was about other verdicts, so the sample is held again.
    annotation_submit(reviewer=reviewer_user, sample=held, decision="accept", note="Back to accept.")
    assert outcome(held) == ("incorrect", "held", "reviewers_disagree", "reviewer")
    adjudicate(sample=held, decision="accept", note="Settled.", admin=admin_user)
    assert outcome(held) == ("incorrect", "accept", "adjudicated", "adjudication")


def test_backfill_fills_samples_without_a_rule_outcome(reviewer_user):
    old = RunFactory.create(k=2)
    easy, mixed, done = query_of(old), query_of(old), query_of(old)
    for index in range(2):
        SampleFactory.create(run=old, query=easy, sample_index=index, scores=RIGHT, correct=True)
    kept = SampleFactory.create(run=old, query=mixed, sample_index=0, scores=RIGHT, correct=True)
    broken = SampleFactory.create(
        run=old, query=mixed, sample_index=1, scores=None, correct=False, parse_status=Sample.ParseStatus.NO_SCORES
    )
    ruled = SampleFactory.create(
        run=old, query=done, sample_index=0, scores=RIGHT, correct=True, rule_reason="correct", decision="accept"
    )
    annotation_submit(reviewer=reviewer_user, sample=kept, decision="reject")
    # As if annotated before the rules existed: the query's samples have no outcome yet.
    Sample.objects.filter(query=mixed).update(rule_reason="", decision="", decision_reason="", decision_source="")

    assert decisions_backfill(run_ids=[old.pk]) == 4
    assert [outcome(sample)[:2] for sample in samples_of(old, easy)] == [("too_easy", "reject")] * 2
    assert outcome(kept) == ("correct", "reject", "reviewer_reject", "reviewer")  # the annotation counts
    assert outcome(broken) == ("parse_failure", "reject", "parse_failure", "rule")
    assert outcome(ruled) == ("correct", "accept", "", "")  # had its outcome: left alone
    assert decisions_backfill(run_ids=[old.pk]) == 0


def test_an_annotation_on_a_sample_without_a_rule_outcome_decides_it(reviewer_user):
    old = RunFactory.create(k=1)
    query = query_of(old)
    sample = SampleFactory.create(run=old, query=query, sample_index=0, scores=WRONG, correct=False)
    annotation_submit(reviewer=reviewer_user, sample=sample, decision="accept", note="A good critique.")
    assert outcome(sample) == ("incorrect", "accept", "reviewer_accept", "reviewer")
    assert decisions_apply(sample_ids=[sample.pk]) == 0  # nothing left to change
