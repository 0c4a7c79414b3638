"""The reviewer reads what the model wrote: every sample card holds its raw output, with what the
parser read highlighted, where parsing gave up marked, and where forced scores begin (issue 12)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, review_queue
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory, SampleFactory, VerdictFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

GOOD = "Specific Criteria: accuracy.\nAnalysis: the first is right.\nScores: \\boxed{8, 3}"
RAMBLING = "I think both are fine, and honestly I would need more context before"
FORCED = "Specific Criteria: brevity.\nAnalysis: the second is shorter" + "\nScores: \\boxed{3, 7}"


def test_each_sample_shows_its_raw_output_with_the_parse_marked(page, live_server, reviewer_user):
    dataset = DatasetFactory.create(name="raw")
    query = QueryFactory.create(dataset=dataset, best_index=0)
    for position in range(2):
        ResponseFactory.create(query=query, position=position, text=f"Response text {position}")
    run = RunFactory.create(dataset=dataset, k=3)
    SampleFactory.create(run=run, query=query, sample_index=0, raw_text=GOOD, scores=[8, 3])
    SampleFactory.create(
        run=run, query=query, sample_index=1, raw_text=RAMBLING, scores=None, parse_status="no_scores",
        principles="", critique="", sections_missing=True,
    )  # fmt: skip
    SampleFactory.create(run=run, query=query, sample_index=2, raw_text=FORCED, scores=[3, 7], forced=True)
    VerdictFactory.create(run=run, query=query)
    log_in(page, live_server.url, reviewer_user.username)
    page.set_viewport_size({"width": 1366, "height": 900})

    page.goto(f"{live_server.url}/datasets/raw/queries/{query.pk}/")
    cards = page.locator("article.sample")
    good, rambling, forced = cards.nth(0), cards.nth(1), cards.nth(2)

    # A parsed sample: folded, one click away, with its three parts highlighted.
    assert not good.locator(".raw-output").is_visible()
    good.locator("details.raw > summary").click()
    assert good.locator("mark.raw-principles").inner_text().startswith("Specific Criteria: accuracy.")
    assert good.locator("mark.raw-critique").inner_text().startswith("Analysis: the first is right.")
    assert good.locator("mark.raw-scores").inner_text() == "Scores: \\boxed{8, 3}"

    # A parse failure: open, the whole text, and why parsing gave up (no headings, no score box).
    assert rambling.locator(".raw-output").is_visible()
    assert RAMBLING in rambling.locator(".raw-output").inner_text()
    notes = rambling.locator(".raw-gave_up").all_inner_texts()
    assert any("Specific Criteria" in note for note in notes)
    assert any("gave up at the end" in note for note in notes)
    assert "could not be read" in rambling.locator("details.raw > summary").inner_text()

    # Forced scores: open, marked where the model's own text ends.
    assert forced.locator(".raw-output").is_visible()
    marker = forced.locator(".raw-forced")
    assert "forced" in marker.inner_text()
    before = forced.locator(".raw-output").evaluate(
        "(pre) => { const range = document.createRange(); range.setStart(pre, 0);"
        " range.setEndBefore(pre.querySelector('.raw-forced')); return range.toString(); }"
    )
    assert before == "Specific Criteria: brevity.\nAnalysis: the second is shorter"

    # The review page shows the same for the item under review.
    queue = review_queue(run)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    assert page.locator("#review-item .sample .raw-output").count() == 3
    assert page.locator("#review-item .sample .raw-gave_up").first.is_visible()
