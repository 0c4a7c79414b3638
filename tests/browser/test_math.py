"""LaTeX in prompts, responses and critiques is typeset by KaTeX from static/, after sanitizing; none of
it can run script or carry a script link (issue 12)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog

from tests.browser.conftest import log_in
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory, SampleFactory, VerdictFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PROMPT = r"Prove that $a_1 + \{x\}$ holds and that \(x^2 \geq 0\). It costs $5 or $10."
RESPONSE = "Since\n\n$$\\frac{a}{b} = \\sum_{i=1}^{n} x_i$$\n\nwe are done."
HOSTILE = (
    r"$\href{javascript:alert(1)}{click}$ and $\url{javascript:alert(2)}$"
    r" and $</span><img src=x onerror=alert(3)>$"
)


def test_math_is_typeset_and_stays_inert(page, live_server, reviewer_user):
    dataset = DatasetFactory.create(name="math")
    query = QueryFactory.create(dataset=dataset, prompt=PROMPT, context=[{"role": "user", "content": PROMPT}])
    ResponseFactory.create(query=query, position=0, text=RESPONSE)
    ResponseFactory.create(query=query, position=1, text=HOSTILE)
    run = RunFactory.create(dataset=dataset, k=1)
    SampleFactory.create(run=run, query=query, sample_index=0, critique=r"Response 1 gets $\frac{1}{2}$ wrong.")
    VerdictFactory.create(run=run, query=query)
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/datasets/math/queries/{query.pk}/")
    page.wait_for_load_state("networkidle")

    conversation = page.locator(".conversation .md")
    assert conversation.locator(".katex").count() == 2  # $...$ and \(...\), from KaTeX
    assert "It costs $5 or $10." in conversation.inner_text()  # prices are not math
    assert conversation.locator(".katex annotation").first.text_content() == r"a_1 + \{x\}"  # braces kept
    best = page.locator("article.response").nth(0)
    assert best.locator(".katex-display .mfrac").count() == 1
    page.locator("article.sample details:has(h4) > summary").first.click()
    assert page.locator("article.sample .md .katex").count() >= 1

    hostile = page.locator("article.response").nth(1)
    assert hostile.locator("a").count() == 0  # \href and \url without trust are errors, not links
    assert hostile.locator("img, script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []
    assert not [url for url in failed if "/static/" in url]  # KaTeX, its styles and fonts load from here
    assert page.evaluate(
        "() => [...document.querySelectorAll('script[src], link[href]')]"
        ".every(e => new URL(e.src || e.href).origin === location.origin)"
    )


def test_math_in_a_swapped_in_review_item_is_typeset(page, live_server, reviewer_user):
    from tests.browser.conftest import judged_run, review_queue

    _, run = judged_run(queries=2, k=1)
    queue = review_queue(run)
    queue.guidelines = r"Check the arithmetic: $\frac{a}{b}$."
    queue.save()
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    assert page.locator("#queue-guidelines .katex").count() == 1
    before = page.locator("#review-item").get_attribute("data-item")
    page.keyboard.press("a")
    page.wait_for_function(
        "before => document.getElementById('review-item').dataset.item !== before", arg=before, timeout=10_000
    )
    page.wait_for_function("() => document.querySelectorAll('#queue-guidelines .katex').length === 1")
