"""Browser fixtures: Debian's Chromium driven by Playwright (sync API) against pytest-django's live server.

The browser is never downloaded (`playwright install` is not used): it is the system's Chromium, at
/usr/bin/chromium or $GRM_CHROMIUM. Where it is missing the tests skip with the reason, except under
GRM_REQUIRE_SERVICES=1 (CI), where they fail. A failed test leaves a screenshot of each of its pages in
$GRM_DATA_DIR/browser-failures/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

from reviews.models import Dataset, ReviewQueue, Run
from reviews.services.queues import QueueFilters, queue_create
from tests.factories import (
    PASSWORD,
    DatasetFactory,
    QueryFactory,
    ResponseFactory,
    RunFactory,
    SampleFactory,
    VerdictFactory,
)

CHROMIUM = os.environ.get("GRM_CHROMIUM", "/usr/bin/chromium")
# Root (CI) cannot use Chromium's sandbox; a small /dev/shm in containers crashes tabs without the second flag.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
TIMEOUT_MS = 15_000
CSP_REFUSAL = "Content Security Policy"

PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so that the page fixture's teardown knows whether the test failed."""
    report: pytest.TestReport = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def chromium_or_stop() -> str:
    """The Chromium executable; a failure under GRM_REQUIRE_SERVICES=1, else a skip, when it is missing."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = (
        f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install chromium) "
        "or point GRM_CHROMIUM at the executable"
    )
    if os.environ.get("GRM_REQUIRE_SERVICES"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser(live_server, monkeypatch) -> Iterator[Browser]:
    """A headless Chromium for one test, started after the live server and the database."""
    executable = chromium_or_stop()
    # Playwright's sync API keeps an asyncio loop on this thread, which trips Django's async-safety check on
    # every ORM call the test makes between page actions; the calls are synchronous and on this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            # With that loop present, Django keys the test's connections to the asyncio context rather than the
            # thread: close them now, or they outlive the test and PostgreSQL cannot drop the test database.
            connections.close_all()
            chromium.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    """Opens pages, each in a browser context of its own (its own cookies: one user each).

    When the test failed, each page still open is saved as a screenshot named after the test.
    """
    pages: list[Page] = []
    refused: list[str] = []

    def open_page() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        # The pages run under the site's Content-Security-Policy: anything it blocks fails the test.
        page.on("console", lambda message: refused.append(message.text) if CSP_REFUSAL in message.text else None)
        pages.append(page)
        return page

    yield open_page
    call = request.node.stash.get(PHASE_REPORTS, {}).get("call")
    if call is not None and call.failed:
        folder = Path(settings.DATA_DIR) / "browser-failures"
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for number, page in enumerate(pages, start=1):
            if not page.is_closed():
                suffix = "" if number == 1 else f"-{number}"
                page.screenshot(path=str(folder / f"{name}{suffix}.png"), full_page=True)
    for page in pages:
        page.context.close()
    assert not refused, f"the Content-Security-Policy blocked: {refused}"


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


def log_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the real login form, as a person would."""
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    assert page.locator("form.who span").inner_text().startswith(username)


def judged_run(*, queries: int, k: int) -> tuple[Dataset, Run]:
    """A dataset with `queries` two-response queries and a finished run with k samples of each (factories)."""
    dataset = DatasetFactory.create()
    run = RunFactory.create(dataset=dataset, k=k, status=Run.Status.DONE, queries_total=queries, queries_done=queries)
    for n in range(queries):
        query = QueryFactory.create(dataset=dataset, best_index=0)
        for position in range(2):
            ResponseFactory.create(query=query, position=position, text=f"**Answer** {position + 1} to question {n}.")
        for index in range(k):
            SampleFactory.create(
                run=run,
                query=query,
                sample_index=index,
                scores=[8, 3],
                correct=True,
                principles="1. Accuracy (weight 100%)",
                critique="Response 1 is *right*.",
            )
        VerdictFactory.create(run=run, query=query, vote_totals=[8 * k, 3 * k])
    return dataset, run


def review_queue(run: Run, *, reviewers_per_item: int = 1) -> ReviewQueue:
    return queue_create(
        name=f"queue-of-run-{run.pk}",
        dataset=run.dataset,
        run=run,
        filters=QueueFilters(),
        priority=ReviewQueue.Priority.UNREVIEWED,
        reviewers_per_item=reviewers_per_item,
    )
