"""The meta RM tasks as bridges: scoring a run batch by batch and voting MetaRM@k, training's failure
path. The scorer here is a stand-in with the real one's interface (the end-to-end test in
tests/integration/test_metarm_e2e.py runs the real model in a real worker)."""

from __future__ import annotations

import pytest

from reviews.models import MetaRmCheckpoint, Run, Sample, Verdict
from tests.factories import make_run
from workers import runtime, tasks

pytestmark = pytest.mark.django_db


class LengthScorer:
    """Trusts a judgment more the longer its critique; records the batches it was given."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def score(self, messages_batch):
        self.batches.append(len(messages_batch))
        return [float(len(messages[1]["content"])) for messages in messages_batch]


@pytest.fixture
def scorer(monkeypatch) -> LengthScorer:
    stand_in = LengthScorer()
    monkeypatch.setattr(runtime, "metarm_scorer_for", lambda location: stand_in)
    return stand_in


def scoring_run(k_meta: int | None = 1) -> Run:
    _, run = make_run(queries=3, k=2)
    Sample.objects.filter(run=run).update(meta_score=None)
    # The last query's sample 0 is wrong: give it the shorter critique, so the meta RM distrusts it.
    Sample.objects.filter(run=run, correct=False).update(critique="No.")
    checkpoint = MetaRmCheckpoint.objects.create(name="c", status=MetaRmCheckpoint.Status.READY, location="/c")
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.DONE, meta_status=Run.MetaStatus.QUEUED, meta_checkpoint=checkpoint, k_meta=k_meta
    )
    return Run.objects.get(pk=run.pk)


def test_scoring_a_run_stores_every_score_and_votes_over_the_trusted_samples(scorer, settings, sent_tasks):
    settings.GRM_METARM_BATCH = 4
    run = scoring_run(k_meta=1)
    assert tasks.gpu_metarm_score(run.id) == 6
    assert scorer.batches == [4, 2]
    assert not Sample.objects.filter(run=run, meta_score__isnull=True).exists()
    run.refresh_from_db()
    assert (run.meta_status, run.meta_scored) == ("done", 6)
    wrong_query = Sample.objects.get(run=run, correct=False).query_id
    verdict = Verdict.objects.get(run=run, query_id=wrong_query)
    # k_meta = 1 keeps the sample with the longer critique (the right one): its scores are the totals.
    assert (verdict.meta_vote_totals, verdict.meta_best_index, verdict.meta_correct) == ([9, 2], 0, True)
    assert set(Verdict.objects.filter(run=run).values_list("meta_correct", flat=True)) == {True}


def test_a_second_delivery_scores_only_what_is_left(scorer, settings):
    settings.GRM_METARM_BATCH = 4
    run = scoring_run()
    first = Sample.objects.filter(run=run).order_by("id").first()
    assert first is not None
    Sample.objects.filter(pk=first.pk).update(meta_score=-5.0)
    Run.objects.filter(pk=run.pk).update(meta_status=Run.MetaStatus.SCORING)  # claimed by the first delivery
    assert tasks.gpu_metarm_score(run.id) == 5
    assert Sample.objects.get(pk=first.pk).meta_score == -5.0


def test_a_run_not_queued_for_scoring_is_left_alone(scorer):
    run = scoring_run()
    Run.objects.filter(pk=run.pk).update(meta_status=Run.MetaStatus.DONE)
    assert tasks.gpu_metarm_score(run.id) == 0
    assert scorer.batches == []


def test_scoring_stops_when_another_checkpoint_is_chosen_meanwhile(scorer, settings):
    settings.GRM_METARM_BATCH = 2
    run = scoring_run()
    other = MetaRmCheckpoint.objects.create(name="other", status=MetaRmCheckpoint.Status.READY, location="/o")
    original = scorer.score

    def switch_after_first_batch(batch):
        if len(scorer.batches) == 1:
            Run.objects.filter(pk=run.pk).update(meta_checkpoint=other)
        return original(batch)

    scorer.score = switch_after_first_batch
    assert tasks.gpu_metarm_score(run.id) == 2
    assert Sample.objects.filter(run=run, meta_score__isnull=False).count() == 2


def test_a_checkpoint_that_cannot_load_fails_the_scoring_not_the_run(settings):
    run = scoring_run()
    MetaRmCheckpoint.objects.filter(runs=run).update(location=str(settings.DATA_DIR / "nothing-here"))
    assert tasks.gpu_metarm_score(run.id) == 0
    run.refresh_from_db()
    assert (run.status, run.meta_status) == ("done", "failed")
    assert "cannot load meta RM" in run.meta_error
    assert Verdict.objects.filter(run=run, correct=True).count() == 3  # Voting@k untouched


def test_training_that_fails_is_recorded_on_the_checkpoint(settings):
    _, run = make_run(queries=2, k=2)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE)
    checkpoint = MetaRmCheckpoint.objects.create(name="t", base_model=str(settings.DATA_DIR / "no-such-backbone"))
    checkpoint.trained_on_runs.set([run])
    assert tasks.gpu_metarm_train(checkpoint.id) == "failed"
    checkpoint.refresh_from_db()
    assert checkpoint.status == "failed"
    assert checkpoint.error_message
    assert tasks.gpu_metarm_train(checkpoint.id) is None  # a failed checkpoint is not claimed again
