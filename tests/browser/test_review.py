"""Reviewing in Chromium: annotation by keyboard alone, and the agreement page as a second reviewer joins."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reviews.models import Annotation, FailureMode, QueueItem
from reviews.services.queues import queue_next, queue_submit
from tests.browser.conftest import judged_run, log_in, review_queue
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def current_item(page) -> str | None:
    return page.locator("#review-item").get_attribute("data-item")


# The next item is in place, and settled: htmx wires up swapped-in content only when it settles (20 ms later).
NEXT_ITEM_READY = """before => {
    const section = document.getElementById("review-item");
    return section.dataset.item !== before && !section.matches(".htmx-added, .htmx-settling");
}"""


def answer_by_key(page, key: str) -> str | None:
    """Press a decision key and wait for htmx to swap in the next item; returns that item's id (None: queue done)."""
    before = current_item(page)
    page.keyboard.press(key)
    page.wait_for_function(NEXT_ITEM_READY, arg=before, timeout=10_000)
    return current_item(page)


def test_a_reviewer_annotates_three_items_with_the_keyboard_alone(page, live_server, reviewer_user):
    _, run = judged_run(queries=3, k=1)
    queue = review_queue(run)
    log_in(page, live_server.url, reviewer_user.username)
    url = f"{live_server.url}/queues/{queue.pk}/"
    page.goto(url)
    page.evaluate("window.__sameDocument = true")  # gone if anything loads the page again

    page.keyboard.press("?")
    assert page.locator("#review-help").evaluate("dialog => dialog.open") is True
    page.keyboard.press("?")
    assert page.locator("#review-help").evaluate("dialog => dialog.open") is False

    first = current_item(page)
    second_mode = page.locator('#annotate-form input[data-key="2"]')
    assert not second_mode.is_checked()
    page.keyboard.press("2")
    assert second_mode.is_checked()
    mode_code = second_mode.get_attribute("value")
    second = answer_by_key(page, "r")
    third = answer_by_key(page, "a")
    # The third item starts with no failure mode ticked: the toggle belonged to the first item's form.
    assert not page.locator("#annotate-form input[type=checkbox]:checked").count()
    done = answer_by_key(page, "a")

    assert done is None
    assert page.locator("#queue-empty").is_visible()
    assert page.url == url
    assert page.evaluate("window.__sameDocument") is True, "an answer loaded a whole page instead of a fragment"
    items = [first, second, third]
    assert None not in items
    assert len(set(items)) == 3
    samples = {item.pk: item.sample_id for item in QueueItem.objects.filter(queue=queue)}
    annotations = {
        annotation.sample_id: annotation
        for annotation in Annotation.objects.filter(reviewer=reviewer_user).prefetch_related("failure_modes")
    }
    assert set(annotations) == {samples[int(item)] for item in items if item}
    decisions = [annotations[samples[int(item)]].decision for item in items if item]
    assert decisions == [Annotation.Decision.REJECT, Annotation.Decision.ACCEPT, Annotation.Decision.ACCEPT]
    modes = [{mode.code for mode in annotations[samples[int(item)]].failure_modes.all()} for item in items if item]
    assert modes == [{mode_code}, set(), set()]
    assert mode_code == FailureMode.objects.filter(active=True, scope="judgment").order_by("position", "pk")[1].code
    assert all(annotation.time_spent_ms > 0 for annotation in annotations.values())


@dataclass
class AgreementFigures:
    reviewers: list[str]
    disagreements: str
    kappa: str | None


def agreement_figures(page) -> AgreementFigures:
    page.reload()
    kappa = page.locator("#decision-kappa")
    return AgreementFigures(
        reviewers=page.locator("table.grid tbody tr td:first-child").all_inner_texts(),
        disagreements=page.locator("h2", has_text="Disagreements").inner_text(),
        kappa=kappa.inner_text() if kappa.count() else None,
    )


def test_the_agreement_page_follows_a_second_reviewer(new_page, live_server, admin_user, reviewer_user):
    _, run = judged_run(queries=3, k=1)
    queue = review_queue(run, reviewers_per_item=2)
    items = list(QueueItem.objects.filter(queue=queue).order_by("rank"))
    first_decisions = ["reject", "accept", "accept"]
    for item, decision in zip(items, first_decisions, strict=True):
        queue_submit(item=item, reviewer=reviewer_user, decision=decision)
    # The second reviewer disagrees on the last item only: observed agreement 2/3, chance 4/9, kappa 0.4.
    second_decisions = {str(item.pk): key for item, key in zip(items, ["r", "a", "r"], strict=True)}

    admin_page = new_page()
    log_in(admin_page, live_server.url, admin_user.username)
    admin_page.goto(f"{live_server.url}/queues/{queue.pk}/agreement/")
    before = agreement_figures(admin_page)
    assert before.disagreements == "Disagreements (0)"
    assert before.kappa is None  # no unit has two annotations yet
    assert reviewer_user.username in before.reviewers

    second = UserFactory.create(username="sam-second", roles=["reviewer"])
    reviewer_page = new_page()
    log_in(reviewer_page, live_server.url, second.username)
    reviewer_page.goto(f"{live_server.url}/queues/{queue.pk}/")
    shown = current_item(reviewer_page)
    while shown is not None:
        shown = answer_by_key(reviewer_page, second_decisions.pop(shown))
    assert second_decisions == {}

    after = agreement_figures(admin_page)
    assert after.disagreements == "Disagreements (1)"
    assert after.kappa == "0.400"
    assert second.username in after.reviewers
    assert second.username not in before.reviewers
    assert admin_page.locator("td .tag.bad", has_text=f"{second.username}: reject").count() == 1


def test_a_refused_submit_keeps_the_input_and_the_keyboard_and_a_fix_goes_through(page, live_server, reviewer_user):
    _, run = judged_run(queries=2, k=1)
    queue = review_queue(run)
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    page.evaluate("window.__sameDocument = true")
    first = current_item(page)

    # Two responses, one corrected score: refused, beside the field, with everything typed still there.
    page.keyboard.press("2")
    mode_code = page.locator('#annotate-form input[data-key="2"]').get_attribute("value")
    boxes = page.locator("#annotate-form input[name=corrected_scores]")
    boxes.nth(0).fill("7")
    page.locator("#annotate-form textarea[name=note]").fill("The critique misreads response 2.")
    page.locator("#annotate-form textarea[name=note]").press("Escape")  # leave the note, as a reviewer does
    with page.expect_response(lambda response: "/annotate" in response.url) as answer:
        page.keyboard.press("a")
    assert answer.value.status == 400
    page.wait_for_function("() => !document.querySelector('#review-item').matches('.htmx-added, .htmx-settling')")
    assert current_item(page) == first
    error = page.locator("#corrected-scores-error")
    assert error.is_visible()
    assert "1 to 10" in error.inner_text()
    assert boxes.nth(0).input_value() == "7"
    assert boxes.nth(0).get_attribute("aria-invalid") == "true"
    assert page.locator("#annotate-form textarea[name=note]").input_value() == "The critique misreads response 2."
    assert page.locator('#annotate-form input[data-key="2"]').is_checked()
    assert page.evaluate("window.__sameDocument") is True  # no page load: the site's navigation and styles stay
    assert page.locator("nav").first.is_visible()

    # The keyboard still works: the help opens and closes, then the fixed form goes through by key.
    page.keyboard.press("?")
    assert page.locator("#review-help").evaluate("dialog => dialog.open") is True
    page.keyboard.press("?")
    boxes.nth(1).fill("3")
    boxes.nth(1).press("Escape")
    second = answer_by_key(page, "a")
    assert second != first
    assert first is not None
    annotation = Annotation.objects.get(sample=QueueItem.objects.get(pk=int(first)).sample)
    assert annotation.decision == Annotation.Decision.ACCEPT
    assert annotation.corrected_scores == [7, 3]
    assert annotation.note == "The critique misreads response 2."
    assert [mode.code for mode in annotation.failure_modes.all()] == [mode_code]


def test_every_button_is_disabled_while_a_submit_is_in_flight(page, live_server, reviewer_user):
    _, run = judged_run(queries=2, k=1)
    queue = review_queue(run)
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    held: list = []
    page.route("**/annotate/", lambda route: held.append(route))  # the answer waits until released
    page.keyboard.press("a")
    page.wait_for_function("() => document.querySelectorAll('#annotate-form button:disabled').length === 3")
    page.keyboard.press("r")  # a second decision while the first is in flight goes nowhere
    page.wait_for_timeout(200)
    assert len(held) == 1
    before = current_item(page)
    held[0].continue_()
    page.wait_for_function(NEXT_ITEM_READY, arg=before, timeout=10_000)
    assert page.locator("#annotate-form button:disabled").count() == 0
    assert Annotation.objects.get().decision == Annotation.Decision.ACCEPT


# Whether an element is on screen and not covered: the points a third in from its top corners hit it.
UNCOVERED = """element => {
    const box = element.getBoundingClientRect();
    const y = Math.min(box.top + 40, window.innerHeight - 5);
    if (box.bottom <= 0 || box.top >= window.innerHeight) return false;
    return [box.left + box.width / 3, box.right - box.width / 3].every(x => {
        const hit = document.elementFromPoint(x, y);
        return hit !== null && element.contains(hit);
    });
}"""


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (1920, 1080)])
def test_the_decision_panel_covers_neither_the_best_response_nor_the_judgment(
    page, live_server, reviewer_user, width, height
):
    _, run = judged_run(queries=1, k=2)
    queue = review_queue(run)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    panel = page.locator("#annotate-form details.panel")
    assert panel.evaluate("details => details.open") is True
    assert page.locator("#annotate-form button.accept").is_visible()
    best = page.locator("#review-item article.response.best")
    sample = page.locator("#review-item article.sample.current")
    assert best.count() == 1
    assert sample.count() == 1
    assert best.evaluate(UNCOVERED) is True
    assert sample.evaluate(UNCOVERED) is True
    form = page.locator("#annotate-form").bounding_box()
    assert form is not None
    for element in (best, sample):
        box = element.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= form["x"]  # beside the panel, not under it


def test_on_a_narrow_screen_the_panel_folds_away_and_keeps_its_buttons(page, live_server, reviewer_user):
    _, run = judged_run(queries=1, k=1)
    queue = review_queue(run)
    page.set_viewport_size({"width": 800, "height": 700})
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    form = page.locator("#annotate-form")
    open_height = form.bounding_box()["height"]
    form.locator("details.panel > summary").click()
    assert form.locator("details.panel").evaluate("details => details.open") is False
    assert form.bounding_box()["height"] < open_height / 2
    assert form.locator("button.accept").is_visible()
    assert page.locator("#review-item article.response").first.evaluate(UNCOVERED) is True


def test_u_takes_back_the_last_decision_with_the_form_as_it_was(page, live_server, reviewer_user):
    _, run = judged_run(queries=2, k=1)
    queue = review_queue(run)
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    page.evaluate("window.__sameDocument = true")
    first = current_item(page)
    assert page.locator("#annotate-form button.undo").count() == 0  # nothing to undo yet
    page.keyboard.press("3")
    page.locator("#annotate-form textarea[name=note]").fill("too harsh")
    page.locator("#annotate-form textarea[name=note]").press("Escape")
    second = answer_by_key(page, "r")
    assert second != first
    assert Annotation.objects.count() == 1

    back = answer_by_key(page, "u")
    assert back == first
    assert "taken back" in page.locator("#review-item [role=status]").inner_text()
    assert page.locator('#annotate-form input[data-key="3"]').is_checked()
    assert page.locator("#annotate-form textarea[name=note]").input_value() == "too harsh"
    assert Annotation.objects.count() == 0
    assert answer_by_key(page, "a") == second  # decided again, then on to the item it had left
    assert Annotation.objects.get().decision == Annotation.Decision.ACCEPT
    assert answer_by_key(page, "a") is None  # the queue is done, and the last decision can still be undone
    assert page.locator("#queue-empty button.undo").is_visible()
    page.keyboard.press("u")
    page.wait_for_function(f"() => document.getElementById('review-item').dataset.item === '{second}'")
    assert page.locator("#annotate-form").is_visible()
    assert page.evaluate("window.__sameDocument") is True


def test_my_annotations_filters_and_edits_in_the_browser(page, live_server, reviewer_user):
    _, run = judged_run(queries=2, k=1)
    queue = review_queue(run)
    for decision in ("reject", "accept"):
        item = queue_next(queue=queue, reviewer=reviewer_user)
        assert item is not None
        queue_submit(item=item, reviewer=reviewer_user, decision=decision)
    log_in(page, live_server.url, reviewer_user.username)
    page.click("nav >> text=My annotations")
    assert page.locator("#my-annotations tbody tr").count() == 2
    page.select_option("#my-annotations-filters select[name=decision]", "reject")
    page.click("#my-annotations-filters button[type=submit]")
    rows = page.locator("#my-annotations tbody tr")
    assert rows.count() == 1
    rows.first.locator("text=Edit").click()
    page.check("#annotation-edit input[name=decision][value=accept]")
    page.fill("#annotation-edit textarea[name=note]", "It was right after all.")
    page.click("#annotation-edit button[type=submit]")
    assert "decision=reject" in page.url  # back on the list as it was filtered
    assert page.locator("#my-annotations tbody tr").count() == 0
    assert set(Annotation.objects.values_list("decision", flat=True)) == {"accept"}
    assert Annotation.objects.filter(note="It was right after all.").count() == 1


def test_the_queue_guidelines_are_beside_the_item_and_in_the_help(page, live_server, reviewer_user):
    _, run = judged_run(queries=1, k=1)
    queue = review_queue(run)
    queue.guidelines = "## When to reject\n\nReject a critique that **invents** facts."
    queue.save()
    log_in(page, live_server.url, reviewer_user.username)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    beside = page.locator("#queue-guidelines")
    assert beside.is_visible()
    assert beside.locator("strong").inner_text() == "invents"
    page.keyboard.press("?")
    assert page.locator("#review-help").evaluate("dialog => dialog.open") is True
    assert "invents facts" in page.locator("#help-guidelines").inner_text()
