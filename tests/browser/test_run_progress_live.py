"""A run started from the form on a random sample of 3 queries, judged by a real Celery worker, and its
progress bar seen moving in Chromium (issue 13). The model is an OpenAI-compatible server on loopback that
takes 3 s per request, so each part of the batch lasts longer than the page's 2 s poll."""

from __future__ import annotations

import re
import time

import pytest

from reviews.models import Run
from reviews.services.configs import defaults_ensure, model_config_for
from reviews.services.datasets import demo_load
from tests.browser.conftest import log_in
from tests.openai_server import Script, openai_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_sampled_run_s_progress_bar_moves_through_intermediate_values(page, live_server, admin_user, celery_workers):
    demo_load()
    defaults_ensure()
    with openai_server(Script(delay=3.0)) as url:
        judge = model_config_for(backend="openai", model="slow-judge", base_url=url)
        celery_workers.start()
        log_in(page, live_server.url, admin_user.username)
        page.goto(f"{live_server.url}/datasets/demo/runs/new/")
        page.select_option("#id_model_config", str(judge.pk))
        page.fill("#id_sample_size", "3")
        page.fill("#id_k", "2")
        page.locator("#estimate-size").filter(has_text="3 queries x k = 6 samples").wait_for()
        page.get_by_role("button", name="Start run").click()
        page.wait_for_url(re.compile(r".*/runs/\d+/$"))
        run = Run.objects.get()
        assert run.query_filter["sample"] == {"size": 3, "seed": 0}

        seen: list[tuple[int, str]] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            bar = page.locator("#run-progress-bar")
            seen.append((int(bar.get_attribute("value") or 0), page.locator("#run-activity").inner_text()))
            if page.locator("#run-status-badge").inner_text() in ("Done", "Failed"):
                break
            time.sleep(0.5)
    total = int(page.locator("#run-progress-bar").get_attribute("max") or 0)
    values = [value for value, _ in seen]
    assert total == 6
    assert values[-1] == 6, seen
    assert len({value for value in values if 0 < value < total}) >= 2, seen  # it moved within the batch
    assert any(activity.startswith("generating") for _, activity in seen), seen
    assert page.locator("#run-status-badge").inner_text() == "Done"  # the header follows the polls
