"""The meta RM's writes: training labels (Eq. 10 and reviewer verdicts), checkpoints, asking a run for
meta scoring, and storing scores and MetaRM@k verdicts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews import enqueue
from reviews.errors import Conflict, MetaRmInvalid
from reviews.models import Annotation, MetaRmCheckpoint, Run, Sample, Verdict
from reviews.selectors.metarm import training_judgments, training_label_counts
from reviews.services import metarm as metarm_services
from reviews.services.annotations import annotation_submit
from reviews.services.runs import run_refresh_progress, runs_resume_stalled
from tests.factories import UserFactory, make_run, start_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run the transaction.on_commit callbacks of what happens inside `with commit():`."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def ready_checkpoint(name: str = "ready", *, active: bool = False) -> MetaRmCheckpoint:
    return MetaRmCheckpoint.objects.create(
        name=name, status=MetaRmCheckpoint.Status.READY, location="/ckpt/" + name, is_active=active
    )


# Every combination of the rule's outcome and the reviewers' verdicts, and the label it trains with.
LABEL_CASES = [
    # (Eq. 10 correct, reviewer decisions, label, source)
    (True, [], 1, "rule"),
    (False, [], 0, "rule"),
    (None, [], None, None),  # unlabelled and unreviewed: not trained on
    (True, ["accept"], 1, "reviewer"),
    (False, ["accept"], 1, "reviewer"),  # an accept rescues a rule-incorrect judgment
    (None, ["accept"], 1, "reviewer"),
    (True, ["reject"], 0, "reviewer"),  # a reject is a 0 whatever the rule says
    (False, ["reject"], 0, "reviewer"),
    (None, ["reject"], 0, "reviewer"),
    (True, ["accept", "reject"], 0, "reviewer"),  # reviewers disagree: the reject wins
    (False, ["reject", "accept"], 0, "reviewer"),
]


@pytest.mark.parametrize(("rule", "decisions", "label", "source"), LABEL_CASES)
def test_training_label_of_each_rule_outcome_and_reviewer_verdict(rule, decisions, label, source):
    _, run = make_run(queries=1, k=1)
    sample = Sample.objects.get(run=run)
    Sample.objects.filter(pk=sample.pk).update(correct=rule)
    for decision in decisions:
        annotation_submit(reviewer=UserFactory.create(), sample=sample, decision=decision)
    judgments = training_judgments(run_ids=[run.id])
    if label is None:
        assert judgments == []
        return
    [judgment] = judgments
    assert (judgment.label, judgment.source) == (label, source)
    # The meta RM reads the instruction, the context and responses, then the sample's reasoning (App. G).
    assert judgment.messages[0]["content"].startswith("Please score the responses.")
    assert judgment.messages[1] == {
        "role": "assistant",
        "content": "Specific Criteria: 1. Accuracy (weight 60%)\nAnalysis: Response 1 is *right*.",
    }


def test_parse_failures_are_not_trained_on():
    _, run = make_run(queries=2, k=2)
    Sample.objects.filter(run=run, sample_index=0).update(parse_status=Sample.ParseStatus.NO_SCORES, scores=None)
    assert {j.sample_id for j in training_judgments(run_ids=[run.id])} == set(
        Sample.objects.filter(run=run, sample_index=1).values_list("id", flat=True)
    )
    assert training_label_counts(run_ids=[run.id]) == {"total": 2, "positive": 2, "negative": 0, "reviewer": 0}


def test_training_starts_on_finished_runs_with_both_labels(sent_tasks, commit):
    _, run = make_run(queries=4, k=3)  # 11 correct samples, 1 incorrect
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE)
    run.refresh_from_db()
    with commit():
        checkpoint = metarm_services.checkpoint_train_start(runs=[run], profile="cpu")
    assert checkpoint.status == MetaRmCheckpoint.Status.QUEUED
    assert list(checkpoint.trained_on_runs.all()) == [run]
    assert sent_tasks.ids(enqueue.METARM_TRAIN) == [checkpoint.id]


def test_training_refuses_what_it_cannot_learn_from(sent_tasks):
    _, run = make_run(queries=4, k=3)
    with pytest.raises(MetaRmInvalid, match="still sampling"):
        metarm_services.checkpoint_train_start(runs=[run])  # RunFactory leaves it queued
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE)
    run.refresh_from_db()
    with pytest.raises(MetaRmInvalid, match="profile"):
        metarm_services.checkpoint_train_start(runs=[run], profile="tpu")
    Sample.objects.filter(run=run).update(correct=True)
    with pytest.raises(MetaRmInvalid, match="12 correct, 0 incorrect") as error:
        metarm_services.checkpoint_train_start(runs=[run])
    assert error.value.field == "runs"
    with pytest.raises(MetaRmInvalid, match="at least one run"):
        metarm_services.checkpoint_train_start(runs=[])
    assert sent_tasks.ids(enqueue.METARM_TRAIN) == []
    assert not MetaRmCheckpoint.objects.exists()


def test_a_finished_checkpoint_is_active_when_none_was():
    first = MetaRmCheckpoint.objects.create(name="first", status=MetaRmCheckpoint.Status.TRAINING)
    second = MetaRmCheckpoint.objects.create(name="second", status=MetaRmCheckpoint.Status.TRAINING)
    for checkpoint in (first, second):
        metarm_services.checkpoint_finish(
            checkpoint_id=checkpoint.id,
            location=f"/checkpoints/{checkpoint.name}",
            base_model="smol",
            metrics={"roc_auc": 0.8},
            content_hash="ab" * 32,
            training_examples=10,
        )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_active, second.is_active) == (True, False)
    assert (second.status, second.progress, second.metrics) == ("ready", 1.0, {"roc_auc": 0.8})
    metarm_services.checkpoint_activate(checkpoint=second)
    assert list(MetaRmCheckpoint.objects.filter(is_active=True)) == [second]
    failed = MetaRmCheckpoint.objects.create(name="failed", status=MetaRmCheckpoint.Status.FAILED)
    with pytest.raises(MetaRmInvalid, match="not ready"):
        metarm_services.checkpoint_activate(checkpoint=failed)


def test_claiming_a_checkpoint_is_won_once():
    checkpoint = MetaRmCheckpoint.objects.create(name="c")
    assert metarm_services.checkpoint_claim(checkpoint_id=checkpoint.id) is not None
    assert metarm_services.checkpoint_claim(checkpoint_id=checkpoint.id) is not None  # a delivery again goes on
    metarm_services.checkpoint_fail(checkpoint_id=checkpoint.id, message="out of memory")
    assert metarm_services.checkpoint_claim(checkpoint_id=checkpoint.id) is None


def test_registering_an_existing_checkpoint_and_the_released_preset():
    checkpoint = metarm_services.checkpoint_register(name="mine", location=" /models/metarm ")
    assert (checkpoint.source, checkpoint.status, checkpoint.location) == ("external", "ready", "/models/metarm")
    with pytest.raises(MetaRmInvalid, match="exists already"):
        metarm_services.checkpoint_register(name="mine", location="/elsewhere")
    with pytest.raises(MetaRmInvalid) as error:
        metarm_services.checkpoint_register(name="empty", location=" ")
    assert error.value.field == "location"
    preset = metarm_services.metarm_presets_ensure()
    assert (preset.name, preset.location, preset.is_active) == (
        "deepseek-grm-27b-metarm",
        "BBQGOD/DeepSeek-GRM-27B-MetaRM",
        False,
    )
    assert metarm_services.metarm_presets_ensure() == preset


def test_meta_scoring_of_a_finished_run_is_queued_with_the_active_checkpoint(sent_tasks, commit):
    _, run = make_run(queries=2, k=4)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, samples_done=8)
    run.refresh_from_db()
    with pytest.raises(MetaRmInvalid, match="no meta RM checkpoint is active"):
        metarm_services.run_meta_request(run=run)
    checkpoint = ready_checkpoint(active=True)
    with pytest.raises(MetaRmInvalid, match="k_meta must be from 1 to k"):
        metarm_services.run_meta_request(run=run, k_meta=5)
    with commit():
        run = metarm_services.run_meta_request(run=run, k_meta=2)
    assert (run.meta_status, run.meta_checkpoint, run.k_meta) == ("queued", checkpoint, 2)
    assert sent_tasks.ids(enqueue.METARM_SCORE) == [run.id]
    with pytest.raises(Conflict, match="being meta scored"):
        metarm_services.run_meta_request(run=run)


def test_another_checkpoint_scores_afresh_and_the_old_results_are_not_shown():
    _, run = make_run(queries=1, k=2)  # the factory gives samples meta scores
    Verdict.objects.filter(run=run).update(meta_vote_totals=[18, 4], meta_best_index=0, meta_correct=True)
    old_report = {"version": 2, "scaling": {"voting": [1], "metarm": [2], "subsets": {"chat": {"metarm": [3]}}}}
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, samples_done=2, meta_scored=2, report=old_report)
    run.refresh_from_db()
    run.meta_checkpoint = ready_checkpoint("old")
    run.save()
    metarm_services.run_meta_request(run=run, checkpoint=ready_checkpoint("new"))
    assert not Sample.objects.filter(run=run, meta_score__isnull=False).exists()
    assert set(Verdict.objects.filter(run=run).values_list("meta_correct", flat=True)) == {None}
    run.refresh_from_db()
    assert run.meta_scored == 0
    assert run.report["scaling"] == {"voting": [1], "subsets": {"chat": {}}}


def test_cancelling_a_run_fails_the_meta_scoring_it_waited_for(demo):
    run = start_run(demo, k=2, meta_checkpoint=ready_checkpoint())
    from reviews.services.runs import run_cancel

    assert run_cancel(run=run)
    run.refresh_from_db()
    assert (run.status, run.meta_status, run.meta_error) == (
        "cancelled",
        "failed",
        "not scored: the run ended cancelled",
    )


def test_stalled_training_is_sent_again_and_a_late_failure_does_not_undo_a_success(sent_tasks, commit):
    checkpoint = MetaRmCheckpoint.objects.create(name="stalled", status=MetaRmCheckpoint.Status.TRAINING)
    MetaRmCheckpoint.objects.filter(pk=checkpoint.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    with commit():
        assert metarm_services.checkpoints_resume_stalled(stalled_for=timedelta(minutes=5)) == [checkpoint.id]
    assert sent_tasks.ids(enqueue.METARM_TRAIN) == [checkpoint.id]
    assert metarm_services.checkpoints_resume_stalled(stalled_for=timedelta(minutes=5)) == []
    metarm_services.checkpoint_finish(
        checkpoint_id=checkpoint.id,
        location="/c",
        base_model="b",
        metrics={},
        content_hash="0" * 64,
        training_examples=9,
    )
    metarm_services.checkpoint_fail(checkpoint_id=checkpoint.id, message="the other delivery failed")
    metarm_services.checkpoint_finish(
        checkpoint_id=checkpoint.id,
        location="/d",
        base_model="b",
        metrics={},
        content_hash="1" * 64,
        training_examples=9,
    )
    checkpoint.refresh_from_db()
    assert (checkpoint.status, checkpoint.location, checkpoint.error_message) == ("ready", "/c", "")


def test_a_run_that_asks_for_meta_scoring_gets_it_when_sampling_ends(demo, sent_tasks, commit):
    checkpoint = ready_checkpoint(active=True)
    run = start_run(demo, k=2, k_meta=1)
    assert (run.meta_status, run.meta_checkpoint) == ("waiting", checkpoint)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, queries_total=0)
    run_refresh_progress(run_id=run.id)  # nothing left: the run ends
    run.refresh_from_db()
    # No verdicts: the run failed, and its meta scoring with it (nothing waits for ever).
    assert (run.status, run.meta_status, run.meta_error) == ("failed", "failed", "not scored: the run ended failed")
    run2 = start_run(demo, k=2, meta_checkpoint=checkpoint)
    assert run2.meta_status == "waiting"
    assert run2.k_meta is None
    Run.objects.filter(pk=run2.pk).update(status=Run.Status.RUNNING)
    for query in run2.dataset.queries.all():
        Verdict.objects.create(run=run2, query=query)
    with commit():
        run_refresh_progress(run_id=run2.id)
    run2.refresh_from_db()
    assert (run2.status, run2.meta_status) == ("done", "queued")
    assert sent_tasks.ids(enqueue.METARM_SCORE) == [run2.id]


def test_k_meta_without_a_checkpoint_needs_an_active_one(demo):
    from reviews.errors import RunInvalid

    with pytest.raises(RunInvalid, match="no checkpoint is active") as error:
        start_run(demo, k=4, k_meta=2)
    assert error.value.field == "k_meta"


def test_scores_and_verdicts_are_stored_and_the_report_recomputed(sent_tasks, commit):
    _, run = make_run(queries=2, k=2)
    checkpoint = ready_checkpoint()
    Run.objects.filter(pk=run.pk).update(meta_status=Run.MetaStatus.SCORING, meta_checkpoint=checkpoint)
    samples = list(Sample.objects.filter(run=run).order_by("id"))
    scores = {s.id: 0.5 * i for i, s in enumerate(samples)}
    other = ready_checkpoint("other")
    # A worker still scoring with a checkpoint the run no longer uses writes nothing.
    assert metarm_services.run_meta_scores_store(run_id=run.id, checkpoint_id=other.id, scores=scores) == 0
    stored = metarm_services.run_meta_scores_store(run_id=run.id, checkpoint_id=checkpoint.id, scores=scores)
    assert stored == 4
    assert [s.meta_score for s in Sample.objects.filter(run=run).order_by("id")] == [0.0, 0.5, 1.0, 1.5]
    query_id = samples[0].query_id
    metarm_services.run_meta_verdicts_store(run_id=run.id, verdicts=[(query_id, [9, 2], 0, True)])
    verdict = Verdict.objects.get(run=run, query_id=query_id)
    assert (verdict.meta_vote_totals, verdict.meta_best_index, verdict.meta_correct) == ([9, 2], 0, True)
    with commit():
        metarm_services.run_meta_finish(run_id=run.id)
        metarm_services.run_meta_finish(run_id=run.id)  # a second delivery sends nothing more
    run.refresh_from_db()
    assert (run.meta_status, run.meta_scored) == ("done", 4)
    assert sent_tasks.ids(enqueue.RUN_REPORT) == [run.id]
    metarm_services.run_meta_fail(run_id=run.id, message="a late delivery failed")
    run.refresh_from_db()
    assert (run.meta_status, run.meta_error) == ("done", "")  # a late failure does not undo the success


def test_stalled_meta_scoring_is_sent_again(sent_tasks, commit):
    _, run = make_run(queries=1, k=2)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.DONE, meta_status=Run.MetaStatus.SCORING, updated_at=timezone.now() - timedelta(hours=1)
    )
    with commit():
        assert runs_resume_stalled(stalled_for=timedelta(minutes=5)) == [run.id]
    assert sent_tasks.ids(enqueue.METARM_SCORE) == [run.id]
    assert runs_resume_stalled(stalled_for=timedelta(minutes=5)) == []  # claimed: not sent twice


def test_reviewer_labels_are_counted():
    _, run = make_run(queries=2, k=2)
    sample = Sample.objects.filter(run=run).first()
    assert sample is not None
    annotation_submit(reviewer=UserFactory.create(), sample=sample, decision=Annotation.Decision.REJECT)
    counts = training_label_counts(run_ids=[run.id])
    assert counts == {"total": 4, "positive": 2, "negative": 2, "reviewer": 1}
