"""Filters of GET /api/v1/queries/: label (best, rating), reviewed, and a run's verdict being correct."""

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Verdict
from reviews.services.accounts import api_token_create
from reviews.services.annotations import annotation_submit
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory, SampleFactory
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(reviewer_user):
    _, raw = api_token_create(user=reviewer_user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def dataset():
    return DatasetFactory.create(name="filters")


def listed(headers, **params):
    response = Client().get(reverse("api-queries"), params, **headers)
    assert response.status_code == 200, response.content
    return [row["external_id"] for row in response.json()["results"]]


def test_best_and_rating_filter_by_the_label(headers, dataset):
    QueryFactory.create(dataset=dataset, external_id="best0", best_index=0)
    QueryFactory.create(dataset=dataset, external_id="best1", best_index=1)
    QueryFactory.create(dataset=dataset, external_id="rated7", best_index=None, rating=7)
    QueryFactory.create(dataset=dataset, external_id="rated3", best_index=None, rating=3)
    QueryFactory.create(dataset=dataset, external_id="unlabelled", best_index=None)
    assert listed(headers, best=0) == ["best0"]
    assert listed(headers, best=1) == ["best1"]
    assert listed(headers, best=5) == []
    assert listed(headers, rating=7) == ["rated7"]
    assert listed(headers, rating=3, dataset="filters") == ["rated3"]
    assert listed(headers, best=0, rating=7) == []
    assert listed(headers, labelled="false") == ["unlabelled"]


@pytest.mark.parametrize(
    "params",
    [
        {"best": "-1"},
        {"best": "first"},
        {"best": "40000"},
        {"rating": "0"},
        {"rating": "11"},
        {"reviewed": "perhaps"},
        {"run": "0"},
        {"run": "x"},
        {"run": "1", "correct": "maybe"},
    ],
)
def test_bad_values_are_a_400_naming_the_parameter(headers, params):
    response = Client().get(reverse("api-queries"), params, **headers)
    assert response.status_code == 400
    assert list(response.json()) == [next(reversed(params))]


def test_reviewed_means_an_annotation_on_the_query_or_on_one_of_its_samples(headers, dataset, admin_user):
    on_query = QueryFactory.create(dataset=dataset, external_id="on-query")
    on_sample = QueryFactory.create(dataset=dataset, external_id="on-sample")
    twice = QueryFactory.create(dataset=dataset, external_id="twice")
    sampled_only = QueryFactory.create(dataset=dataset, external_id="sampled-only")
    QueryFactory.create(dataset=dataset, external_id="untouched")
    run = RunFactory.create(dataset=dataset)
    sample = SampleFactory.create(run=run, query=on_sample, sample_index=0)
    SampleFactory.create(run=run, query=sampled_only, sample_index=0)
    twice_samples = [SampleFactory.create(run=run, query=twice, sample_index=i) for i in range(2)]
    annotation_submit(reviewer=admin_user, query=on_query, decision="accept")
    annotation_submit(reviewer=admin_user, sample=sample, decision="reject")
    for twice_sample in twice_samples:  # several annotations still list the query once
        annotation_submit(reviewer=admin_user, sample=twice_sample, decision="reject")
    annotation_submit(reviewer=admin_user, query=twice, decision="reject")
    assert listed(headers, reviewed="true") == ["on-query", "on-sample", "twice"]
    assert listed(headers, reviewed="false") == ["sampled-only", "untouched"]
    assert len(listed(headers)) == 5


@pytest.fixture
def judged(dataset):
    """Two runs over five queries: right, wrong, unlabelled (correct is null) and not judged in run one."""
    run, other = RunFactory.create(dataset=dataset), RunFactory.create(dataset=dataset)
    queries = {name: QueryFactory.create(dataset=dataset, external_id=name) for name in ("r", "w", "u", "n")}
    Verdict.objects.create(run=run, query=queries["r"], best_index=0, correct=True)
    Verdict.objects.create(run=run, query=queries["w"], best_index=1, correct=False)
    Verdict.objects.create(run=run, query=queries["u"], best_index=0, correct=None)
    Verdict.objects.create(run=other, query=queries["w"], best_index=0, correct=True)
    Verdict.objects.create(run=other, query=queries["n"], best_index=1, correct=False)
    return run, other


def test_run_and_correct_filter_by_the_verdict_in_that_run(headers, judged):
    run, other = judged
    assert listed(headers, run=run.id) == ["r", "w", "u"]
    assert listed(headers, run=run.id, correct="true") == ["r"]
    assert listed(headers, run=run.id, correct="false") == ["w"]
    assert listed(headers, run=other.id, correct="true") == ["w"]
    assert listed(headers, run=other.id, correct="false") == ["n"]
    assert listed(headers, run=10**6, correct="true") == []


def test_correct_without_run_is_a_400_naming_correct(headers, judged):
    for value in ("true", "false"):
        response = Client().get(reverse("api-queries"), {"correct": value}, **headers)
        assert response.status_code == 400
        assert list(response.json()) == ["correct"]
        assert "run" in response.json()["correct"][0]


def test_filters_combine(headers, judged, admin_user):
    run, _ = judged
    wrong = Verdict.objects.get(run=run, correct=False).query
    annotation_submit(reviewer=admin_user, query=wrong, decision="reject")
    assert listed(headers, run=run.id, correct="false", reviewed="true", best=0) == ["w"]
    assert listed(headers, run=run.id, correct="false", reviewed="false") == []
    assert listed(headers, run=run.id, reviewed="false") == ["r", "u"]


def test_query_count_does_not_grow_with_rows_under_every_filter(reviewer_user, headers):
    dataset = DatasetFactory.create()
    run = RunFactory.create(dataset=dataset)
    params = {"run": run.id, "correct": "false", "reviewed": "true", "best": 0, "page_size": 100}

    def grow(count):
        for _ in range(count):
            query = QueryFactory.create(dataset=dataset)
            for position in range(3):
                ResponseFactory.create(query=query, position=position)
            for index in range(2):
                sample = SampleFactory.create(run=run, query=query, sample_index=index)
                annotation_submit(reviewer=reviewer_user, sample=sample, decision="reject")
            annotation_submit(reviewer=reviewer_user, query=query, decision="reject")
            Verdict.objects.create(run=run, query=query, best_index=1, correct=False)

    grow(1)
    Client().get(reverse("api-queries"), **headers)  # the token's first use records last_used_at
    with count_queries() as few:
        assert len(listed(headers, **params)) == 1
    grow(9)
    with count_queries() as many:
        assert len(listed(headers, **params)) == 10
    assert_count_does_not_grow({"1 query": few, "10 queries": many})
