"""A run started from the browser: the real default model in a real Celery worker, watched through htmx polling."""

from __future__ import annotations

import io
import json
import time

import pytest

from reviews.models import Run, Sample
from reviews.services.configs import defaults_ensure
from reviews.services.datasets import dataset_import
from tests.browser.conftest import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

QUERIES = [
    {
        "id": f"tiny-{n}",
        "subset": "chat",
        "prompt": question,
        "responses": [right, wrong],
        "best": 0,
    }
    for n, (question, right, wrong) in enumerate(
        [
            ("What is 2 + 2?", "4.", "5."),
            ("Name the capital of France.", "Paris.", "Berlin."),
            ("Is water wet?", "Yes, in everyday terms.", "No idea."),
        ]
    )
]


def tiny_dataset(name: str) -> None:
    lines = "".join(json.dumps(record) + "\n" for record in QUERIES)
    dataset_import(dataset_name=name, stream=io.BytesIO(lines.encode()), fmt="native")


def progress(page) -> tuple[int, int, bool]:
    """(value, max, still polling) of the run page's progress bar, read from the DOM as it is now."""
    state = page.evaluate(
        """() => {
            const section = document.getElementById("run-progress");
            const bar = section.querySelector("progress");
            return [Number(bar.getAttribute("value")), Number(bar.getAttribute("max")), section.hasAttribute("hx-get")];
        }"""
    )
    return int(state[0]), int(state[1]), bool(state[2])


def test_an_admin_starts_a_run_and_watches_its_progress_bar_fill(page, live_server, admin_user, celery_workers):
    celery_workers.start()  # loads while the browser logs in
    defaults_ensure()
    tiny_dataset("tiny")
    log_in(page, live_server.url, admin_user.username)

    page.goto(f"{live_server.url}/datasets/tiny/")
    page.click("text=Run the GRM")
    page.wait_for_url(f"{live_server.url}/datasets/tiny/runs/new/")
    page.fill("#id_k", "2")
    page.fill("#id_max_tokens", "16")
    page.fill("#id_batch_size", "1")  # one query per task: the bar moves one step at a time
    page.click("text=Start run")
    page.wait_for_url(f"{live_server.url}/runs/*/")
    run = Run.objects.get(dataset__name="tiny")
    assert page.url == f"{live_server.url}/runs/{run.id}/"
    assert (run.k, run.max_tokens, run.batch_size, run.queries_total) == (2, 16, 1, 3)
    page.evaluate("window.__sameDocument = true")  # gone if the page were loaded again

    seen: list[int] = []
    deadline = time.monotonic() + 600  # a ceiling for a loaded machine: about 40 s on 2 idle cores
    while True:
        value, maximum, polling = progress(page)
        if not seen or seen[-1] != value:
            seen.append(value)
        if not polling:
            break
        assert time.monotonic() < deadline, f"the run did not end in 600 s; progress values seen: {seen}"
        page.wait_for_timeout(250)

    assert maximum == 6  # counted in samples: 3 queries x k = 2
    assert seen == sorted(seen), f"the bar went backwards: {seen}"
    assert len(seen) >= 2, f"the bar never moved while watched: {seen}"
    assert seen[-1] == maximum, f"progress values seen: {seen}"
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded instead of swapping the fragment"
    assert page.locator("#run-progress .queries-done").inner_text() == "3"

    run.refresh_from_db()
    assert run.status == Run.Status.DONE, run.error_message
    assert Sample.objects.filter(run=run).count() == 6
    page.reload()
    assert page.locator("h1 .status").get_attribute("class") == "status done"

    # Open one of the judged queries: its two samples are there as cards, beside the vote.
    page.goto(f"{live_server.url}/datasets/tiny/")
    page.locator("a[href*='/queries/']").first.click()
    page.wait_for_url(f"{live_server.url}/datasets/tiny/queries/*/")
    assert page.locator("article.sample").count() == 2
    assert page.locator("#verdict-summary").count() == 1
