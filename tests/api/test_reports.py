"""The API's run reports (JSON and CSV) and the comparison of two runs."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Run
from reviews.selectors.reports import CSV_HEADER, report_rows
from tests.factories import DatasetFactory, QueryFactory, RunFactory, VerdictFactory
from tests.pages.reports import old_report, scaling_report
from tests.queries import assert_count_does_not_grow, count_queries

from .test_views import bearer

pytestmark = pytest.mark.django_db


def cell(value: object) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def test_the_report_is_served_as_stored_and_as_csv(reviewer_user):
    report = scaling_report()
    run = RunFactory.create(report=report)
    client, headers = Client(), bearer(reviewer_user)
    body = client.get(reverse("api-run-report", args=[run.pk]), **headers)
    assert body.status_code == 200
    assert body.json() == report
    for response in (
        client.get(reverse("api-run-report", args=[run.pk]), {"format": "csv"}, **headers),
        client.get(reverse("api-run-report-csv", args=[run.pk]), **headers),
    ):
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert tuple(rows[0]) == CSV_HEADER
        expected = [
            [subset, curve, str(k), str(value), *(cell(v) for v in (low, high, stderr)), cell(exact)]
            for subset, curve, k, value, low, high, stderr, exact in report_rows(report)
        ]
        assert rows[1:] == expected
        assert len(rows) == 1 + 10


def test_an_old_or_missing_report_is_served_too(reviewer_user):
    old = RunFactory.create(report=old_report())
    empty = RunFactory.create()
    client, headers = Client(), bearer(reviewer_user)
    assert client.get(reverse("api-run-report", args=[old.pk]), **headers).json() == old_report()
    rows = client.get(reverse("api-run-report-csv", args=[old.pk]), **headers).content.decode().splitlines()
    assert rows[1] == ",voting,1,0.9,,,,"
    assert client.get(reverse("api-run-report", args=[empty.pk]), **headers).json() == {}
    assert client.get(reverse("api-run-report-csv", args=[empty.pk]), **headers).content.decode().splitlines() == [
        ",".join(CSV_HEADER)
    ]


def test_report_errors_are_json(reviewer_user):
    run = RunFactory.create()
    client, headers = Client(), bearer(reviewer_user)
    bad = client.get(reverse("api-run-report", args=[run.pk]), {"format": "xml"}, **headers)
    assert bad.status_code == 400
    assert "format" in bad.json()
    missing = client.get(reverse("api-run-report", args=[run.pk + 1]), {"format": "csv"}, **headers)
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert client.get(reverse("api-run-report-csv", args=[run.pk + 1]), **headers).status_code == 404


def test_compare_counts_and_the_first_flipped_ids(reviewer_user):
    dataset = DatasetFactory.create()
    run_a, run_b = RunFactory.create(dataset=dataset), RunFactory.create(dataset=dataset)
    flipped = []
    for a, b in [(True, True), (True, False), (False, True), (False, False), *[(True, False)] * 110]:
        query = QueryFactory.create(dataset=dataset)
        VerdictFactory.create(run=run_a, query=query, correct=a)
        VerdictFactory.create(run=run_b, query=query, correct=b)
        if a != b:
            flipped.append(query.pk)
    client, headers = Client(), bearer(reviewer_user)
    body = client.get(reverse("api-runs-compare"), {"a": run_a.pk, "b": run_b.pk}, **headers).json()
    assert body["counts"] == {
        "judged_both": 114,
        "labelled_both": 114,
        "both_right": 1,
        "only_a": 111,
        "only_b": 1,
        "both_wrong": 1,
    }
    assert (body["a"], body["b"], body["dataset"]) == (run_a.pk, run_b.pk, dataset.name)
    assert body["flipped_total"] == 112
    assert body["flipped"] == sorted(flipped)[:100]


def test_compare_refuses_other_datasets_and_unknown_runs(reviewer_user):
    run_a, other = RunFactory.create(), RunFactory.create()
    client, headers = Client(), bearer(reviewer_user)
    different = client.get(reverse("api-runs-compare"), {"a": run_a.pk, "b": other.pk}, **headers)
    assert different.status_code == 400
    assert "only runs of one dataset" in different.json()["b"][0]
    unknown = client.get(reverse("api-runs-compare"), {"a": run_a.pk, "b": 10**6}, **headers)
    assert unknown.status_code == 400
    assert unknown.json() == {"b": [f"No run {10**6}."]}
    assert client.get(reverse("api-runs-compare"), {"a": run_a.pk}, **headers).status_code == 400
    assert client.get(reverse("api-runs-compare"), {"a": 2**64, "b": 1}, **headers).status_code == 400


def test_compare_runs_as_many_queries_for_few_flips_as_for_many(reviewer_user):
    dataset = DatasetFactory.create()
    run_a, run_b = RunFactory.create(dataset=dataset), RunFactory.create(dataset=dataset)

    def add(count: int) -> None:
        for n in range(count):
            query = QueryFactory.create(dataset=dataset)
            VerdictFactory.create(run=run_a, query=query, correct=n % 2 == 0)
            VerdictFactory.create(run=run_b, query=query, correct=n % 2 == 1)

    client, headers = Client(), bearer(reviewer_user)
    url = reverse("api-runs-compare") + f"?a={run_a.pk}&b={run_b.pk}"
    add(1)
    client.get(url, **headers)  # the token's first use records last_used_at
    with count_queries() as few:
        assert client.get(url, **headers).status_code == 200
    add(30)
    with count_queries() as many:
        assert client.get(url, **headers).json()["flipped_total"] == 31
    assert_count_does_not_grow({"1 flip": few, "31 flips": many})


def test_run_out_has_the_meta_fields(reviewer_user):
    run = RunFactory.create(meta_status=Run.MetaStatus.FAILED, meta_error="boom", meta_scored=3)
    body = Client().get(reverse("api-run", args=[run.pk]), **bearer(reviewer_user)).json()
    assert (body["meta_status"], body["meta_error"], body["meta_scored"], body["meta_checkpoint"]) == (
        "failed",
        "boom",
        3,
        None,
    )
