"""Search: queries by dataset, subset, run verdict, failure mode, reviewer and text, combined with AND."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from reviews.models import FailureMode, Verdict
from reviews.services.queues import queue_submit
from tests.factories import (
    DatasetFactory,
    QueryFactory,
    ResponseFactory,
    RunFactory,
    SampleFactory,
    UserFactory,
    make_queue,
    make_run,
)

pytestmark = pytest.mark.django_db


def found(client, **params) -> list[str]:
    page = client.get(reverse("search"), params)
    assert page.status_code == 200
    return [query.external_id for query in page.context["page"].object_list]


def test_each_filter_narrows_the_results(reviewer_client):
    dataset, run = make_run(queries=3, k=1)
    other, _ = make_run(queries=1, k=1)
    ids = list(dataset.queries.order_by("id").values_list("external_id", flat=True))
    first, second, third = dataset.queries.order_by("id")
    Verdict.objects.filter(run=run, query=third).update(correct=False)
    queue = make_queue(run)
    alice = UserFactory.create(username="alice", roles=["reviewer"])
    mode = FailureMode.objects.get(code="length_bias")
    item = queue.items.get(query=second)
    queue_submit(item=item, reviewer=alice, decision="reject", failure_modes=[mode])

    assert found(reviewer_client, dataset=dataset.name) == ids
    assert len(found(reviewer_client)) == 4
    assert found(reviewer_client, run=run.pk, verdict="wrong") == [third.external_id]
    assert found(reviewer_client, run=run.pk, verdict="right") == ids[:2]
    Verdict.objects.filter(run=run, query=first).update(tie_broken=True)
    assert found(reviewer_client, run=run.pk, verdict="tied") == [first.external_id]
    run.samples.filter(query=second).update(parse_status="no_scores", scores=None)
    assert found(reviewer_client, run=run.pk, verdict="unparsed") == [second.external_id]
    page = reviewer_client.get(reverse("search"), {"verdict": "wrong"})
    assert "Choose the run whose verdict this is." in page.content.decode()
    assert found(reviewer_client, subset=first.subset or "__none__", dataset=dataset.name) == ids
    assert found(reviewer_client, failure_mode="length_bias") == [second.external_id]
    assert found(reviewer_client, reviewer="alice") == [second.external_id]
    assert found(reviewer_client, reviewer="alice", failure_mode="parse_failure") == []
    assert found(reviewer_client, text=first.external_id) == [first.external_id]
    assert other.name not in "".join(found(reviewer_client, dataset=dataset.name))


def test_bad_filter_values_are_reported_not_a_500(reviewer_client):
    page = reviewer_client.get(reverse("search"), {"run": "abc", "failure_mode": "nope"})
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()


@pytest.fixture
def texts():
    """Three queries: the word in the user's query, only in a response, only in a judgment's critique."""
    dataset = DatasetFactory.create(name="texts")
    run = RunFactory.create(dataset=dataset, k=1)
    made = {}
    for name, prompt, response, critique in [
        ("in-prompt", "How should I store bleach safely?", "Somewhere cool.", "Fine."),
        ("in-response", "How do I clean a cutting board?", "Scrub it with diluted <b>bleach</b> solution.", "Ok."),
        ("in-critique", "What removes stains?", "Soap.", "It should have mentioned bleaching agents."),
    ]:
        query = QueryFactory.create(
            dataset=dataset, external_id=name, prompt=prompt, context=[{"role": "user", "content": prompt}]
        )
        ResponseFactory.create(query=query, position=0, text=response)
        ResponseFactory.create(query=query, position=1, text="Nothing to see.")
        SampleFactory.create(run=run, query=query, sample_index=0, principles="Safety.", critique=critique)
        made[name] = query
    QueryFactory.create(dataset=dataset, external_id="unrelated", prompt="What is the capital of France?")
    return made


def test_text_is_found_in_responses_and_judgments_with_marked_snippets(reviewer_client, texts):
    page = reviewer_client.get(reverse("search"), {"text": "bleach"})
    results = [query.external_id for query in page.context["page"].object_list]
    if connection.vendor == "postgresql":  # full-text: "bleaching" matches too, the user's query ranks first
        assert results == ["in-prompt", "in-response", "in-critique"]
    else:  # a substring match: "bleaching" holds "bleach" too, in id order
        assert sorted(results) == ["in-critique", "in-prompt", "in-response"]
    html = page.content.decode()
    assert "Response 1:" in html
    assert "sample 1:" in html
    assert "<mark>bleach</mark>" in html or "<mark>Bleach</mark>" in html
    # The response's markup never becomes markup: text in the snippet (ts_headline leaves tags out).
    assert "<b>" not in html
    if connection.vendor != "postgresql":
        assert "&lt;b&gt;" in html


def test_an_id_match_ranks_first_and_phrases_narrow(reviewer_client, texts):
    if connection.vendor != "postgresql":
        pytest.skip("ranking and phrase syntax are PostgreSQL full-text search's")
    assert found(reviewer_client, text="in-critique")[0] == "in-critique"
    assert found(reviewer_client, text='"cutting board"') == ["in-response"]
    assert found(reviewer_client, text="bleach -safely") == ["in-response", "in-critique"]
