"""From a run to its work, in Chromium (issue 13): the run page opens its wrong queries, and "Review this run"
opens the queue form filled in, whose source can be changed to a dataset in place."""

from __future__ import annotations

import pytest

from reviews.models import ReviewQueue, Verdict
from tests.browser.conftest import log_in
from tests.factories import make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_run_page_opens_its_wrong_queries_and_a_queue_of_the_run(page, live_server, admin_user):
    dataset, run = make_run(queries=3, k=2)
    wrong = dataset.queries.order_by("id").last()
    assert wrong is not None
    Verdict.objects.filter(run=run, query=wrong).update(correct=False)
    log_in(page, live_server.url, admin_user.username)

    page.goto(f"{live_server.url}/runs/")
    page.get_by_role("link", name=f"Run {run.pk}", exact=True).click()
    assert page.locator("h1").inner_text().startswith(f"Run {run.pk}: {dataset.name}")
    page.locator("#run-queries-wrong").click()
    page.wait_for_url(f"**/search/?run={run.pk}&verdict=wrong")
    results = page.locator("#search-results tbody tr")
    assert results.count() == 1
    assert wrong.external_id in results.first.inner_text()

    page.go_back()
    page.locator("#review-run-link").click()
    assert page.locator("#id_source").input_value() == f"run:{run.pk}"
    assert page.locator("#id_correct").is_visible()  # a run's queue: right or wrong judgments
    page.locator("#id_source").select_option(f"dataset:{dataset.name}")  # htmx swaps the form in place
    page.wait_for_url(lambda url: url.endswith(f"/queues/new/?source=dataset%3A{dataset.name}"))
    assert page.locator("#id_correct").count() == 0
    assert page.locator("#id_name").input_value() == f"{dataset.name}: labels"
    page.get_by_role("button", name="Create queue").click()
    page.wait_for_url(f"{live_server.url}/queues/")
    queue = ReviewQueue.objects.get()
    assert (queue.dataset, queue.run, queue.item_count) == (dataset, None, 3)
