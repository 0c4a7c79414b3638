"""The upload page in Chromium (issue 13): a file dropped on the page, its preview, the upload, and the
upload's page following a real Celery worker from "waiting for a worker" to the end, with the table of
its bad line; a second file whose field is renamed in the preview, into a dataset that exists."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Page

from reviews.models import Dataset, Query, Upload
from tests.browser.conftest import log_in
from tests.factories import DatasetFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ITEMS = 400
BAD_LINE = 2


def items_file() -> str:
    lines = []
    for n in range(1, ITEMS + 1):
        record = {"id": f"q{n}", "prompt": f"What is {n} + {n}?", "responses": [str(2 * n), str(2 * n + 1)], "best": 0}
        if n == BAD_LINE:
            record["best"] = 5  # two responses: no response 5
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def drop_file(page: Page, selector: str, name: str, text: str) -> None:
    """Drop a file on an element, as dragging it from the desktop does."""
    transfer = page.evaluate_handle(
        "([name, text]) => { const t = new DataTransfer(); t.items.add(new File([text], name)); return t; }",
        [name, text],
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_a_dropped_file_with_one_bad_line_is_previewed_uploaded_followed_and_its_bad_line_listed(
    page, live_server, admin_user, celery_workers
):
    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/")
    page.locator("#upload-link").click()
    page.wait_for_url("**/uploads/new/")
    assert page.locator("#id_dataset").is_hidden()  # a new dataset by default: its name, not the list

    drop_file(page, "#dropzone", "arithmetic.jsonl", items_file())
    assert page.locator("#file-chosen").inner_text().startswith("arithmetic.jsonl")
    rows = page.locator("#preview-items tbody tr")
    rows.first.wait_for()
    assert rows.count() == 5
    assert "What is 1 + 1?" in rows.nth(0).inner_text()
    bad = rows.nth(BAD_LINE - 1)
    assert bad.get_attribute("class") == "bad"
    assert "best: is 5 but there are 2 responses" in bad.inner_text()

    page.fill("#id_name", "arithmetic")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r".*/uploads/\d+/$"))
    upload = Upload.objects.get()
    assert (upload.dataset_name, upload.filename, upload.partial) == ("arithmetic", "arithmetic.jsonl", True)
    assert page.locator("#upload-phase").inner_text() == "waiting for a worker"  # no worker yet

    celery_workers.start()
    seen: list[tuple[str, str, str]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = page.locator("#upload-state").inner_text()
        seen.append((state, page.locator("#upload-phase").inner_text(), page.locator("#upload-items").inner_text()))
        if state.lower() in ("done", "partial", "rejected", "failed"):
            break
        time.sleep(0.2)
    assert seen[0][1] == "waiting for a worker", seen
    assert seen[-1][0] == "Partial", seen
    assert page.locator("#upload-bar").get_attribute("value") == "100"
    assert page.locator("#upload-items").inner_text() == f"{ITEMS}"
    assert page.locator("#upload-created").inner_text() == f"{ITEMS - 1}"
    assert page.locator("#upload-rejected").inner_text() == "1"
    errors = page.locator("#upload-errors-table tbody tr")
    assert errors.count() == 1
    assert errors.first.inner_text().split("\t")[:2] == [str(BAD_LINE), "best"]
    assert Query.objects.filter(dataset__name="arithmetic").count() == ITEMS - 1

    page.get_by_role("link", name="Open arithmetic").click()
    page.wait_for_url("**/datasets/arithmetic/")


def test_a_field_renamed_in_the_preview_into_a_dataset_that_exists(page, live_server, admin_user):
    DatasetFactory.create(name="pairs")
    record = {"instruction": "Pick one", "output_1": "x", "output_2": "y", "label": 2}
    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/datasets/pairs/")
    page.locator("#add-data").click()
    page.wait_for_url("**/uploads/new/?dataset=pairs")
    assert page.locator("#id_dataset").input_value() == "pairs"
    page.locator("#id_name").wait_for(state="hidden")  # an existing dataset: the list, not a new name

    page.set_input_files("#id_file", files=[{"name": "pairs.jsonl", "mimeType": "application/x-ndjson",
                                             "buffer": (json.dumps(record) + "\n").encode()}])  # fmt: skip
    page.locator("#format-hint").filter(has_text="llmbar").wait_for()  # read as native: it looks like llmbar
    page.select_option("#id_format", "llmbar")
    page.locator("#preview-items tr.bad").filter(has_text="input: is required").wait_for()
    page.select_option("select[name='rename:instruction']", "input")
    page.locator("#preview-items tr.ok").filter(has_text="Pick one").wait_for()
    assert "best: response 1" in page.locator("#preview-items tr.ok").inner_text()

    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r".*/uploads/\d+/$"))
    upload = Upload.objects.get()
    assert (upload.dataset_name, upload.format, upload.field_map) == ("pairs", "llmbar", {"instruction": "input"})
    assert Dataset.objects.count() == 1


def test_a_refused_form_keeps_the_chosen_file_and_says_why(page, live_server, admin_user):
    DatasetFactory.create(name="taken")
    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/uploads/new/")
    page.set_input_files("#id_file", files=[{"name": "a.jsonl", "mimeType": "application/x-ndjson",
                                             "buffer": items_file().encode()}])  # fmt: skip
    page.fill("#id_name", "taken")
    page.get_by_role("button", name="Upload").click()
    alert = page.locator("#upload-form-errors")
    alert.wait_for()
    assert "a dataset named 'taken' exists" in alert.inner_text()
    assert page.evaluate("document.getElementById('id_file').files[0].name") == "a.jsonl"
    page.fill("#id_name", "fresh")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r".*/uploads/\d+/$"))
    assert Upload.objects.get().dataset_name == "fresh"
