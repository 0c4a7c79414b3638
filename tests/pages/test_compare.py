"""The compare page: two runs of one dataset on one chart, how their verdicts agree, and the flips."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from django.urls import reverse

from reviews.models import Dataset, Run
from tests.factories import DatasetFactory, QueryFactory, RunFactory, VerdictFactory
from tests.pages.reports import scaling_report
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


def pair(dataset: Dataset | None = None) -> tuple[Run, Run]:
    dataset = dataset or DatasetFactory.create(name="pair")
    return RunFactory.create(dataset=dataset, k=4), RunFactory.create(dataset=dataset, k=8)


def judge(run_a: Run, run_b: Run, outcomes: Sequence[tuple[bool, bool | str | None]]) -> list[int]:
    """A query per (a correct, b correct); b None: no verdict in b, "none": an unlabelled verdict."""
    ids = []
    for a, b in outcomes:
        query = QueryFactory.create(dataset=run_a.dataset)
        VerdictFactory.create(run=run_a, query=query, correct=a, best_index=0 if a else 1)
        if b is not None:
            VerdictFactory.create(run=run_b, query=query, correct=None if b == "none" else b, best_index=0 if b else 1)
        ids.append(query.pk)
    return ids


def compare(client, run_a: Run, run_b: Run | None = None, **params):
    query = {"a": run_a.pk, **({"b": run_b.pk} if run_b else {}), **params}
    return client.get(reverse("run-compare"), query)


def test_counts_and_flips_of_a_hand_built_pair(reviewer_client):
    run_a, run_b = pair()
    ids = judge(
        run_a,
        run_b,
        [(True, True), (True, False), (False, True), (False, False), (True, "none"), (True, None)],
    )
    response = compare(reviewer_client, run_a, run_b)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="judged-both">5<' in page
    assert 'id="labelled-both">4<' in page
    assert 'id="both-right">1<' in page
    assert 'id="only-a">1<' in page
    assert 'id="only-b">1<' in page
    assert 'id="both-wrong">1<' in page
    assert 'id="flip-count">2 queries<' in page
    flips = page[page.index('id="flips"') :]
    for query_id in (ids[1], ids[2]):
        assert f'href="{reverse("query-detail", args=["pair", query_id])}?run={run_a.pk}"' in flips
    for query_id in (ids[0], ids[3], ids[4], ids[5]):
        assert reverse("query-detail", args=["pair", query_id]) not in flips


def test_flips_are_paginated_fifty_to_a_page(reviewer_client):
    run_a, run_b = pair()
    ids = judge(run_a, run_b, [(n % 2 == 0, n % 2 == 1) for n in range(60)] + [(True, True)])
    first = compare(reviewer_client, run_a, run_b).content.decode()
    assert 'id="flip-count">60 queries<' in first
    flips = first[first.index('id="flips"') :]
    assert flips.count("<tr>") == 1 + 50  # the header row, and fifty flips
    assert f"?a={run_a.pk}&amp;b={run_b.pk}&amp;page=2" in first
    second = compare(reviewer_client, run_a, run_b, page=2).content.decode()
    assert "page 2 of 2" in second
    assert reverse("query-detail", args=["pair", ids[59]]) in second
    assert reverse("query-detail", args=["pair", ids[0]]) not in second


def test_the_page_runs_as_many_queries_for_few_flips_as_for_many(reviewer_client):
    run_a, run_b = pair()
    judge(run_a, run_b, [(True, False), (False, True)])
    for run in (run_a, run_b):
        Run.objects.filter(pk=run.pk).update(report=scaling_report())
    reviewer_client.get(reverse("home"))
    with count_queries() as few:
        assert compare(reviewer_client, run_a, run_b).status_code == 200
    judge(run_a, run_b, [(n % 2 == 0, n % 2 == 1) for n in range(40)])
    RunFactory.create_batch(5, dataset=run_a.dataset)  # more runs to choose B from
    with count_queries() as many:
        page = compare(reviewer_client, run_a, run_b).content.decode()
    assert 'id="flip-count">42 queries<' in page
    assert_count_does_not_grow({"2 flips": few, "42 flips": many})


def test_both_runs_curves_are_drawn_on_one_chart(reviewer_client):
    run_a, run_b = pair()
    Run.objects.filter(pk=run_a.pk).update(report=scaling_report())
    Run.objects.filter(pk=run_b.pk).update(report={"voting_curve": {"1": 0.5, "8": 0.6}})
    page = compare(reviewer_client, run_a, run_b).content.decode()
    chart = page[page.index('id="accuracy-chart"') :]
    assert chart.count("<polyline") == 3  # A: Voting@k and MetaRM@k; B (an old report): Voting@k
    assert f"A (#{run_a.pk}) MetaRM@k" in chart
    assert f"B (#{run_b.pk}) Voting@k" in chart
    assert 'class="series s3"' in chart


def test_without_b_the_page_offers_the_other_runs_of_the_dataset(reviewer_client):
    run_a, run_b = pair()
    elsewhere = RunFactory.create()
    page = compare(reviewer_client, run_a).content.decode()
    assert f'<option value="{run_b.pk}">' in page
    assert f'<option value="{elsewhere.pk}">' not in page
    assert f'<option value="{run_a.pk}">' not in page
    run_page = reviewer_client.get(reverse("run-detail", args=[run_a.pk])).content.decode()
    assert f'href="{reverse("run-compare")}?a={run_a.pk}"' in run_page


def test_runs_of_different_datasets_get_a_message_not_a_500(reviewer_client):
    run_a, _ = pair()
    other = RunFactory.create(dataset=DatasetFactory.create(name="other"))
    response = compare(reviewer_client, run_a, other)
    assert response.status_code == 400
    assert "only runs of one dataset can be compared" in response.content.decode()


@pytest.mark.parametrize("params", [{"a": "abc"}, {"a": "99999999999999999999999"}, {"a": "1", "b": "x\x00"}])
def test_bad_run_ids_are_a_400(reviewer_client, params):
    assert reviewer_client.get(reverse("run-compare"), params).status_code == 400


def test_the_bare_page_asks_for_two_runs(reviewer_client):
    response = reviewer_client.get(reverse("run-compare"))
    assert response.status_code == 200
    assert 'id="compare-form"' in response.content.decode()


def test_a_missing_run_b_is_named_and_b_can_be_chosen_again(reviewer_client):
    run_a, run_b = pair()
    response = reviewer_client.get(reverse("run-compare"), {"a": run_a.pk, "b": 99999})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="compare-errors"' in page
    assert f'<option value="{run_b.pk}">' in page  # the choice of B, not a dead end
