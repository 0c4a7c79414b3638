"""Rendered texts (reviews.rendering): the HTML of stored texts is rendered once, when they are stored
or on first view, and pages read it back in one statement."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from reviews import rendering
from reviews.models import Assignment, RenderedText
from reviews.selectors.judgments import judgment_cards
from reviews.services.datasets import dataset_prerender
from reviews.services.queues import queue_guidelines_set
from reviews.templatetags.grm_text import markdown_filter
from tests.factories import PASSWORD, QueryFactory, ResponseFactory, SampleFactory, make_queue, make_run
from tests.queries import count_queries
from tests.services.judged import judged, store

pytestmark = pytest.mark.django_db


def _refuse_rendering(monkeypatch) -> None:
    def refused(source: rendering.Source) -> str:
        raise AssertionError(f"rendered again: {source.text[:40]!r}")

    monkeypatch.setattr(rendering.Source, "render", refused)


def stored_html(text: str) -> str:
    return RenderedText.objects.get(key=rendering.markdown(text).key).html


def test_a_text_is_rendered_once_then_read_in_one_statement(monkeypatch):
    sources = [rendering.markdown("**bold**"), rendering.markdown("*it*"), rendering.markdown("**bold**")]
    first = rendering.html_of(sources)
    assert first[sources[0]] == "<p><strong>bold</strong></p>\n"
    assert RenderedText.objects.count() == 2  # the same text twice is one row
    _refuse_rendering(monkeypatch)
    with count_queries() as read:
        again = rendering.html_of(sources)
    assert read.count == 1
    assert again == first


def test_the_stored_html_is_sanitized_like_the_filter():
    source = rendering.markdown('<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror="alert(3)">')
    html = rendering.html_of([source])[source]
    assert "<script" not in html
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert html == markdown_filter(source.text) == stored_html(source.text)


def test_the_key_names_the_renderer_the_kind_and_the_text(monkeypatch):
    text = "Scores: \\boxed{3, 7}"
    keys = {
        rendering.markdown(text).key,
        rendering.raw_output(text, 2, low=1, high=10, forced=False).key,
        rendering.raw_output(text, 2, low=1, high=10, forced=True).key,
        rendering.raw_output(text, 3, low=1, high=10, forced=False).key,
        rendering.markdown(text + " ").key,
    }
    assert len(keys) == 5
    rendering.html_of([rendering.markdown(text)])
    monkeypatch.setattr(rendering, "RENDERER_VERSION", rendering.RENDERER_VERSION + 1)
    assert rendering.markdown(text).key not in keys  # a new renderer does not read the old HTML
    rendering.html_of([rendering.markdown(text)])
    assert RenderedText.objects.count() == 2
    assert rendering.prune() == 1
    assert list(RenderedText.objects.values_list("version", flat=True)) == [rendering.RENDERER_VERSION]


def test_prerender_renders_only_what_is_not_stored():
    rendering.html_of([rendering.markdown("one")])
    assert rendering.prerender(rendering.markdown(text) for text in ["one", "two", "three", "two"]) == 2
    assert RenderedText.objects.count() == 3


def test_a_worker_storing_judgments_renders_their_principles_and_critiques():
    dataset, run = make_run(queries=1, k=1)
    query = QueryFactory.create(dataset=dataset, best_index=0)
    store(run, [judged(query, [[8, 2], None])])
    assert stored_html("principles") == "<p>principles</p>\n"
    assert stored_html("critique") == "<p>critique</p>\n"


def test_a_dataset_s_queries_and_responses_are_rendered_ahead():
    dataset, _ = make_run(queries=0, k=1)
    query = QueryFactory.create(dataset=dataset, context=[{"role": "user", "content": "What is *x*?"}])
    ResponseFactory.create(query=query, position=0, text="It is **y**.")
    assert dataset_prerender(dataset=dataset) == 2
    assert stored_html("What is *x*?") == "<p>What is <em>x</em>?</p>\n"
    assert stored_html("It is **y**.") == "<p>It is <strong>y</strong>.</p>\n"
    assert dataset_prerender(dataset=dataset) == 0


def test_guidelines_are_rendered_when_written():
    _, run = make_run(queries=1, k=1)
    queue = make_queue(run, guidelines="Check the *units*.")
    assert stored_html("Check the *units*.") == "<p>Check the <em>units</em>.</p>\n"
    queue_guidelines_set(queue=queue, guidelines="Reject **guesses**.")
    assert stored_html("Reject **guesses**.") == "<p>Reject <strong>guesses</strong>.</p>\n"


def _mark_stored(text: str, marker: str) -> None:
    """Stand in for a stored rendering, so a page that shows `marker` read the store."""
    RenderedText.objects.filter(key=rendering.markdown(text).key).update(html=f"<p>{marker}</p>")


def test_the_query_page_and_the_review_item_show_the_stored_html(monkeypatch, reviewer_user):
    dataset, run = make_run(queries=1, k=2)
    query = dataset.queries.get()
    queue = make_queue(run, guidelines="Be *fair*.")
    sample = run.samples.get(sample_index=0)
    judgment_cards(query=query, responses=list(query.responses.all()), samples=list(run.samples.all()))
    for text, marker in [
        (query.context[0]["content"], "STORED-PROMPT"),
        (query.responses.get(position=0).text, "STORED-RESPONSE"),
        (sample.principles, "STORED-PRINCIPLES"),
        (sample.critique, "STORED-CRITIQUE"),
        ("Be *fair*.", "STORED-GUIDELINES"),
    ]:
        _mark_stored(text, marker)
    _refuse_rendering(monkeypatch)
    client = Client()
    client.login(username=reviewer_user.username, password=PASSWORD)
    page = client.get(reverse("query-detail", args=[dataset.name, query.pk]) + f"?run={run.pk}").content.decode()
    review = client.get(reverse("queue-review", args=[queue.pk])).content.decode()
    for marker in ("STORED-PROMPT", "STORED-RESPONSE", "STORED-PRINCIPLES", "STORED-CRITIQUE"):
        assert marker in page
        assert marker in review
    assert "STORED-GUIDELINES" in review
    assert Assignment.objects.filter(reviewer=reviewer_user).count() == 1


def test_a_folded_raw_output_loads_when_opened_and_an_open_one_comes_with_the_card(reviewer_user, client):
    dataset, run = make_run(queries=1, k=1)
    query = dataset.queries.get()
    failed = SampleFactory.create(
        run=run, query=query, sample_index=1, raw_text="<b>no</b> scores here", scores=None, parse_status="no_scores"
    )
    parsed = run.samples.get(sample_index=0)
    client.login(username=reviewer_user.username, password=PASSWORD)
    page = client.get(reverse("query-detail", args=[dataset.name, query.pk])).content.decode()
    raw_url = reverse("sample-raw", args=[parsed.pk])
    assert f'hx-get="{raw_url}"' in page  # folded: fetched on opening
    assert "&lt;b&gt;no&lt;/b&gt; scores here" in page  # open: on the page, escaped
    assert reverse("sample-raw", args=[failed.pk]) not in page
    fragment = client.get(raw_url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.startswith('<mark class="raw-principles"')
    assert '<mark class="raw-scores"' in fragment
    whole = client.get(raw_url)
    assert whole.status_code == 200
    assert "What the model wrote" in whole.content.decode()
    assert client.get(reverse("sample-raw", args=[failed.pk + 100])).status_code == 404
    client.logout()
    assert client.get(raw_url).status_code == 302  # to the login page
