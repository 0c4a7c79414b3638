"""Hinted resampling (GRM_SPEC 6, issue 11): one hinted sample for each query of a finished run whose every
sample was wrong, through the engine, stored marked hinted and judged by the hinted rule."""

from __future__ import annotations

import pytest
from django.db.models import Count

from reviews.enqueue import RUN_START
from reviews.errors import RunInvalid
from reviews.models import Query, Round, Run, Sample
from reviews.selectors.runs import hinted_candidates, run_pending_batches
from reviews.services.runs import run_claim, run_create_hinted
from tests.factories import QueryFactory, RunFactory, start_run
from tests.openai_server import Script, openai_server
from tests.services.judged import judged, store
from workers.backends.openai_backend import OpenAIBackend
from workers.grm.templates import HINT_LINE
from workers.tasks import judge_batch

pytestmark = pytest.mark.django_db

RIGHT, WRONG = [9, 2], [2, 9]


@pytest.fixture
def finished():
    """A done run of k=2: two queries every sample got wrong (one by parse failures), and others that do
    not qualify (one right sample, a rating label, no label, no samples at all)."""
    rft_round = Round.objects.create(number=1)
    run = RunFactory.create(k=2, temperature=0.7, max_tokens=300, force_scores=True, rft_round=rft_round)
    dataset = run.dataset
    all_wrong, unparsed, one_right = (QueryFactory.create(dataset=dataset, best_index=0) for _ in range(3))
    rated = QueryFactory.create(dataset=dataset, best_index=None, rating=7)
    unlabelled = QueryFactory.create(dataset=dataset, best_index=None)
    QueryFactory.create(dataset=dataset, best_index=0)  # not judged: no samples
    store(
        run,
        [
            judged(all_wrong, [WRONG, WRONG]),
            judged(unparsed, [None, WRONG]),
            judged(one_right, [WRONG, RIGHT]),
            judged(rated, [[3], [4]]),
            judged(unlabelled, [WRONG, WRONG]),
        ],
    )
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
    run.expected = [all_wrong.pk, unparsed.pk]  # type: ignore[attr-defined]
    return run


def test_candidates_are_the_labelled_queries_every_sample_failed(finished):
    candidates = hinted_candidates(run=finished)
    assert (candidates.count, candidates.ids) == (2, finished.expected)


def test_the_hinted_run_copies_the_settings_and_names_its_source(
    finished, admin_user, django_capture_on_commit_callbacks, sent_tasks
):
    with django_capture_on_commit_callbacks(execute=True):
        hinted = run_create_hinted(run=finished, created_by=admin_user)
    hinted.refresh_from_db()
    same = ("dataset_id", "model_config_id", "template_id", "temperature", "max_tokens", "force_scores", "rft_round_id")
    assert [getattr(hinted, name) for name in same] == [getattr(finished, name) for name in same]
    assert (hinted.k, hinted.hinted, hinted.source_run, hinted.created_by) == (1, True, finished, admin_user)
    assert hinted.query_filter == {"ids": finished.expected}
    assert (hinted.queries_total, hinted.status) == (2, Run.Status.QUEUED)
    assert list(finished.resamples.all()) == [hinted]
    assert sent_tasks.ids(RUN_START) == [hinted.pk]


def test_a_second_launch_is_refused_until_the_first_fails(finished, admin_user):
    hinted = run_create_hinted(run=finished, created_by=admin_user)
    assert hinted_candidates(run=finished).count == 0
    with pytest.raises(RunInvalid, match="no query left"):
        run_create_hinted(run=finished, created_by=admin_user)
    Run.objects.filter(pk=hinted.pk).update(status=Run.Status.CANCELLED)
    again = run_create_hinted(run=finished, created_by=admin_user)
    assert again.query_filter == {"ids": finished.expected}


@pytest.mark.parametrize("status", [Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.FAILED, Run.Status.CANCELLED])
def test_only_a_done_run_is_resampled(finished, admin_user, status):
    Run.objects.filter(pk=finished.pk).update(status=status)
    with pytest.raises(RunInvalid, match=f"is {status}"):
        run_create_hinted(run=finished, created_by=admin_user)
    assert not Run.objects.filter(source_run=finished).exists()


def test_a_hinted_run_is_not_resampled_again(finished, admin_user):
    hinted = run_create_hinted(run=finished, created_by=admin_user)
    Run.objects.filter(pk=hinted.pk).update(status=Run.Status.DONE)
    assert hinted_candidates(run=hinted).count == 0
    with pytest.raises(RunInvalid, match="itself hinted"):
        run_create_hinted(run=hinted, created_by=admin_user)


def test_a_run_with_a_right_sample_everywhere_has_nothing_to_resample(admin_user):
    run = RunFactory.create(k=2)
    query = QueryFactory.create(dataset=run.dataset, best_index=0)
    store(run, [judged(query, [RIGHT, WRONG])])
    with pytest.raises(RunInvalid, match="no query left"):
        run_create_hinted(run=run, created_by=admin_user)


def judge_all(run: Run, script: Script) -> None:
    assert run_claim(run_id=run.pk) is not None
    with openai_server(script) as url:
        backend = OpenAIBackend("judge", base_url=url)
        for batch in run_pending_batches(run=run):
            judge_batch(run_id=run.pk, query_ids=batch, load_backend=lambda: backend)
    run.refresh_from_db()
    assert run.status == Run.Status.DONE


def test_the_engine_shows_the_hint_and_the_samples_stay_marked(demo, admin_user):
    """The worker's path: the hinted run's one sample per query is prompted with the labelled best and stored
    hinted, and a right one is kept, not dropped as too easy (k = 1, every sample right: too easy unhinted)."""
    # "First shown 9, second 2": a two-response query is wrong when both its samples show the best
    # second, a longer one always (a score box of the wrong size). Which two-response queries are left
    # to resample depends on the shown orders, drawn from the seed and the query ids (which differ from
    # one test database to the next): take the first seed that leaves both kinds.
    for seed in range(30):
        source = start_run(demo, query_filter={"subset": "chat"}, k=2, seed=seed)
        judge_all(source, Script())
        candidates = hinted_candidates(run=source)
        pairs = Query.objects.filter(pk__in=candidates.ids).annotate(n=Count("responses")).filter(n=2).count()
        if 0 < pairs < candidates.count:
            break
    else:
        pytest.fail("no seed in 30 left both kinds of query to resample")
    hinted = run_create_hinted(run=source, created_by=admin_user)
    # Sample 0 shows the responses in the order it did in the source run: the best second, now scored 9.
    script = Script(judgment="Specific Criteria: x.\nAnalysis: y.\nScores: \\boxed{2, 9}")
    judge_all(hinted, script)

    prompts = [request["messages"][-1]["content"] for request in script.requests]
    assert len(prompts) == candidates.count
    assert all(HINT_LINE.split("{")[0] in prompt for prompt in prompts)
    samples = list(Sample.objects.filter(run=hinted))
    assert sorted(sample.query_id for sample in samples) == candidates.ids
    assert all(sample.hinted for sample in samples)
    for sample in samples:
        expected = ("correct", "accept") if len(sample.permutation) == 2 else ("parse_failure", "reject")
        assert (sample.rule_reason, sample.decision) == expected, sample.raw_text
    assert {sample.rule_reason for sample in samples} == {"correct", "parse_failure"}
