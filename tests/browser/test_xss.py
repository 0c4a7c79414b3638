"""Untrusted text (prompts, responses, critiques) runs no script in the browser: the query page and the review page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog

from tests.browser.conftest import log_in, review_queue
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory, SampleFactory, VerdictFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Each vector leaves its own mark in window.__xss (or opens a dialog) if it ever runs.
PAYLOAD = "\n\n".join(
    [
        "<script>window.__xss=1;alert(1)</script>",
        '<img src=x onerror="window.__xss=2;alert(2)">',
        "[click](javascript:window.__xss=3)",
        "[encoded](%6Aavascript:window.__xss=7)",  # the one the Markdown parser lets through as a link
        '<iframe src="javascript:alert(4)"></iframe>',
        "raw javascript:window.__xss=5 text",
        "<javascript:alert(6)>",
    ]
)
ACTIVE = "script, iframe, img, object, embed, svg, math, form, input, style, link, meta, base"

INSPECT = """([selector, active]) => {
    const containers = [...document.querySelectorAll(selector)];
    const inside = containers.flatMap(container => [...container.querySelectorAll("*")]);
    return {
        containers: containers.length,
        text: containers.map(container => container.textContent).join("\\n"),
        active: inside.filter(element => element.matches(active)).map(element => element.outerHTML),
        handlers: inside.flatMap(element => element.getAttributeNames().filter(name => name.startsWith("on"))),
        hrefs: inside.filter(element => element.hasAttribute("href") || element.hasAttribute("src"))
            .map(element => element.getAttribute("href") || element.getAttribute("src")),
    };
}"""


# Where pages show untrusted text: escaped (.text) or as sanitized Markdown (.md).
UNTRUSTED = (
    ".conversation .text, .conversation .md, .response .text, .response .md, .sample .md, .sample .raw-output,"
    " #queue-guidelines"
)


def inspect(page, *, at_least: int) -> None:
    """Asserts that nothing active came out of the untrusted text on the page, and no script URL."""
    found = page.evaluate(INSPECT, [UNTRUSTED, ACTIVE])
    assert found["containers"] >= at_least
    assert found["active"] == [], f"elements made from untrusted text: {found['active']}"
    assert found["handlers"] == []
    # Shown as text, not dropped: the parser refuses javascript: links outright.
    assert "<script>window.__xss=1;alert(1)</script>" in found["text"]
    assert "[click](javascript:window.__xss=3)" in found["text"]
    assert all(not href.strip().lower().startswith(("javascript:", "data:", "vbscript:")) for href in found["hrefs"])


def assert_nothing_ran(page, dialogs: list[str]) -> None:
    page.wait_for_load_state("networkidle")  # an <img onerror> would have fired by now
    assert dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_script_in_prompts_responses_and_critiques_never_runs(page, live_server, reviewer_user):
    dataset = DatasetFactory.create(name="hostile")
    query = QueryFactory.create(dataset=dataset, prompt=PAYLOAD, context=[{"role": "user", "content": PAYLOAD}])
    for position in range(2):
        ResponseFactory.create(query=query, position=position, text=PAYLOAD)
    run = RunFactory.create(dataset=dataset, k=1)
    # The raw output holds the payload in every part the reviewer's view highlights, and a score box
    # that cannot be read, so the output is shown open with the point where parsing gave up.
    raw = f"Specific Criteria: {PAYLOAD}\nAnalysis: {PAYLOAD}\nScores: \\boxed{{8, <img src=x onerror=alert(8)>}}"
    SampleFactory.create(
        run=run, query=query, sample_index=0, principles=PAYLOAD, critique=PAYLOAD, raw_text=raw, scores=None,
        parse_status="not_integer",
    )  # fmt: skip
    # A parsed sample: its raw output is folded, and fetched when the reader opens it.
    parsed = f"Specific Criteria: {PAYLOAD}\nAnalysis: {PAYLOAD}\nScores: \\boxed{{8, 3}}"
    SampleFactory.create(run=run, query=query, sample_index=1, raw_text=parsed, scores=[8, 3])
    VerdictFactory.create(run=run, query=query)
    queue = review_queue(run)
    queue.guidelines = PAYLOAD  # an admin's Markdown is rendered as sanitized as a model's
    queue.save()
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    log_in(page, live_server.url, reviewer_user.username)

    page.goto(f"{live_server.url}/datasets/hostile/queries/{query.pk}/")
    assert_nothing_ran(page, dialogs)
    inspect(page, at_least=3)  # the user's message and two responses (the judgments may be folded away)
    folded = page.locator("article.sample").nth(1)
    folded.locator("details.raw > summary").click()
    assert "Specific Criteria: <script>" in folded.locator("mark.raw-principles").inner_text()  # loaded, as text
    assert_nothing_ran(page, dialogs)
    inspect(page, at_least=4)
    for link in page.locator(".response a").filter(has_text="encoded").all():  # where the page renders Markdown
        link.click()
    assert_nothing_ran(page, dialogs)

    review_url = f"{live_server.url}/queues/{queue.pk}/"
    page.goto(review_url)
    assert_nothing_ran(page, dialogs)
    inspect(page, at_least=7)  # the message, two responses, the sample's reasoning and raw output, the guidelines
    raw = page.locator(".sample.current .raw-output")
    assert raw.is_visible()  # open: its scores could not be read
    assert "<img src=x onerror=alert(8)>" in raw.locator("mark.raw-scores").inner_text()
    assert "whole numbers" in raw.locator(".raw-gave_up").inner_text()
    links = page.locator(".response .md a, .sample.current .md a").filter(has_text="encoded")
    assert links.count() == 4  # two responses, the principles and the critique under review
    for link in links.all():
        assert link.get_attribute("href") is None
        link.click()
    assert_nothing_ran(page, dialogs)
    assert page.url == review_url


def test_search_snippets_of_hostile_text_are_inert(page, live_server, reviewer_user):
    dataset = DatasetFactory.create(name="hostile-search")
    query = QueryFactory.create(dataset=dataset, prompt=PAYLOAD, context=[{"role": "user", "content": PAYLOAD}])
    for position in range(2):
        ResponseFactory.create(query=query, position=position, text=PAYLOAD)
    run = RunFactory.create(dataset=dataset, k=1)
    SampleFactory.create(run=run, query=query, sample_index=0, principles=PAYLOAD, critique=PAYLOAD)
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    log_in(page, live_server.url, reviewer_user.username)
    for text in ("click", "encoded", "raw"):  # plain words of the payload, found by either kind of search
        page.goto(f"{live_server.url}/search/?text={text}")
        assert_nothing_ran(page, dialogs)
        snippets = page.locator("ul.snippets")
        assert snippets.count() == 1, text
        tags = snippets.evaluate("list => [...list.querySelectorAll('li *')].map(e => e.tagName.toLowerCase())")
        assert set(tags) <= {"span", "mark"}, (text, tags)  # the "where" label and the marked matches only
        handlers = snippets.evaluate(
            "list => [...list.querySelectorAll('*')]"
            ".flatMap(e => e.getAttributeNames().filter(n => n.startsWith('on')))"
        )
        assert handlers == []
