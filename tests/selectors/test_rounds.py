"""Round selectors: the list's counts, and a round's page (runs with Voting@k and MetaRM@k, RFT decisions,
parent, children, releases) in a number of statements that does not grow with its runs."""

import pytest

from reviews.models import Sample, Verdict
from reviews.selectors.rounds import round_for_page, round_page, rounds_list
from reviews.services.rounds import round_assign_runs, round_create
from tests.factories import ReleaseFactory, RunFactory, make_run
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_releases(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"


def judged_run(round, *, queries=3, meta=False):
    """A judged run in `round`: the last query's vote is wrong; with `meta`, MetaRM@k got only the first right."""
    _, run = make_run(queries=queries, k=2)
    round_assign_runs(round=round, runs=[run])
    verdicts = list(Verdict.objects.filter(run=run).order_by("query_id"))
    Verdict.objects.filter(pk=verdicts[-1].pk).update(correct=False)
    if meta:
        Verdict.objects.filter(run=run).update(meta_correct=False)
        Verdict.objects.filter(pk=verdicts[0].pk).update(meta_correct=True)
    return run


def test_the_list_counts_runs_and_releases_without_multiplying_them():
    first = round_create(name="seed")
    second = round_create()
    for _ in range(3):
        RunFactory.create(rft_round=first)
    ReleaseFactory.create(rft_round=first)
    ReleaseFactory.create(rft_round=first)
    with count_queries() as listed:
        rows = {r.number: (r.run_count, r.release_count, r.parent, r.model_config) for r in rounds_list()}
    assert rows == {1: (3, 2, None, None), 2: (0, 0, first, None)}
    assert listed.count == 1
    assert round_for_page(number=2) == second


def test_a_rounds_page_holds_its_runs_accuracy_decisions_family_and_releases():
    parent = round_create()
    current = round_create(name="r2")
    child = round_create()
    sibling = round_create(parent=parent)
    voted = judged_run(current, meta=True)
    unlabelled = RunFactory.create(rft_round=current, k=3)
    RunFactory.create(rft_round=parent)  # another round's run
    samples = list(Sample.objects.filter(run=voted).order_by("id"))
    Sample.objects.filter(pk__in=[s.pk for s in samples[:3]]).update(decision="accept")
    Sample.objects.filter(pk=samples[3].pk).update(decision="reject")
    Sample.objects.filter(pk=samples[4].pk).update(decision="held")
    release = ReleaseFactory.create(rft_round=current, counts={"rows": 3})
    ReleaseFactory.create(rft_round=parent)

    page = round_page(round=round_for_page(number=current.number))

    assert (page.parent, page.children) == (parent, [child])
    assert sibling not in page.children
    [voted_row, unlabelled_row] = page.runs
    assert voted_row.run == voted
    assert (voted_row.voting_total, voted_row.voting_right, voted_row.voting_accuracy) == (3, 2, pytest.approx(2 / 3))
    assert (voted_row.meta_total, voted_row.meta_right, voted_row.meta_accuracy) == (3, 1, pytest.approx(1 / 3))
    assert (voted_row.accepted, voted_row.rejected, voted_row.held) == (3, 1, 1)
    assert unlabelled_row.run == unlabelled
    blank = unlabelled_row
    assert (blank.voting_total, blank.voting_accuracy, blank.meta_accuracy) == (0, None, None)
    assert (blank.accepted, blank.rejected, blank.held) == (0, 0, 0)
    assert page.releases == [release]


def test_a_rounds_page_costs_the_same_statements_however_many_runs_it_holds():
    current = round_create()
    round_create()
    judged_run(current, meta=True)
    ReleaseFactory.create(rft_round=current)
    with count_queries() as one_run:
        page = round_page(round=round_for_page(number=current.number))
    assert len(page.runs) == 1
    for _ in range(4):
        judged_run(current, queries=2, meta=True)
    ReleaseFactory.create(rft_round=current)
    with count_queries() as five_runs:
        page = round_page(round=round_for_page(number=current.number))
    assert len(page.runs) == 5
    assert_count_does_not_grow({"1 run": one_run, "5 runs": five_runs})
    assert five_runs.count == 6  # the round, children, runs, verdict counts, sample counts, releases
