"""The review pages: one item at a time with htmx swaps, creating queues, agreement, and their query counts.

Who holds an item, skipping and the completed count are the service's (tests/services/test_queues.py)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Annotation, Assignment, QueueItem, ReviewQueue
from reviews.services.decisions import decisions_backfill
from reviews.services.queues import QueueFilters, queue_create, queue_next, queue_submit
from tests.factories import PASSWORD, UserFactory, make_queue, make_run
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer_page(reviewer_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.login(username=reviewer_user.username, password=PASSWORD)
    return client


def csrf(client: Client, url: str) -> str:
    client.get(url)
    return client.cookies["csrftoken"].value


def test_the_review_page_shows_the_item_and_one_post_swaps_in_the_next(reviewer_page, reviewer_user):
    _, run = make_run(queries=2, k=2)
    queue = make_queue(run, priority=ReviewQueue.Priority.AUTO_REJECTED)
    url = reverse("queue-review", args=[queue.pk])
    page = reviewer_page.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="review-item"' in html
    assert "<strong>Answer</strong>" in html  # Markdown rendered
    assert "under review" in html
    assert "js/review.js" in html
    item = Assignment.objects.get(reviewer=reviewer_user).item
    token = reviewer_page.cookies["csrftoken"].value
    annotate = reverse("queue-annotate", args=[queue.pk, item.pk])
    answer = reviewer_page.post(
        annotate,
        {"decision": "reject", "failure_modes": ["incorrect_critique"], "time_spent_ms": "1500"},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )
    assert answer.status_code == 200
    fragment = answer.content.decode()
    assert fragment.lstrip().startswith('<section id="review-item"')
    assert f'data-item="{item.pk}"' not in fragment
    annotation = Annotation.objects.get()
    assert (annotation.decision, annotation.time_spent_ms) == ("reject", 1500)
    assert [m.code for m in annotation.failure_modes.all()] == ["incorrect_critique"]


def test_a_bad_decision_is_a_400_that_keeps_the_item(reviewer_page):
    _, run = make_run(queries=1, k=1)
    queue = make_queue(run)
    token = csrf(reviewer_page, reverse("queue-review", args=[queue.pk]))
    item = QueueItem.objects.get()
    answer = reviewer_page.post(
        reverse("queue-annotate", args=[queue.pk, item.pk]),
        {"decision": "maybe"},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )
    assert answer.status_code == 400
    assert f'data-item="{item.pk}"' in answer.content.decode()
    assert "decision" in answer.content.decode()


def test_only_admins_create_queues_and_people_without_a_role_cannot_review(admin_client, client):
    _, run = make_run(queries=2, k=1)
    page = admin_client.get(reverse("queue-new"))
    assert page.status_code == 200
    answer = admin_client.post(
        reverse("queue-new"),
        {
            "name": "wrong ones",
            "source": f"run:{run.pk}",
            "priority": "auto_rejected",
            "reviewers_per_item": 2,
            "reservation_minutes": 5,
            "correct": "",
            "parse_status": "",
        },
    )
    assert answer.status_code == 302
    queue = ReviewQueue.objects.get()
    assert (queue.item_count, queue.reviewers_per_item, queue.reservation_seconds) == (2, 2, 300)
    nobody = UserFactory.create()
    client.login(username=nobody.username, password=PASSWORD)
    assert client.get(reverse("queues")).status_code == 403
    assert client.get(reverse("queue-review", args=[queue.pk])).status_code == 403
    reviewer = UserFactory.create(roles=["reviewer"])
    client.login(username=reviewer.username, password=PASSWORD)
    assert client.get(reverse("queue-new")).status_code == 403
    assert "wrong ones" in client.get(reverse("queues")).content.decode()


def test_the_review_page_and_the_next_item_request_run_the_same_queries_for_any_k(admin_user):
    client = Client()
    client.login(username=admin_user.username, password=PASSWORD)
    pages, annotations = {}, {}
    for k, responses in [(4, 2), (32, 2), (4, 8)]:
        _, run = make_run(queries=3, k=k, responses=responses)
        queue = make_queue(run, name=f"k{k}-r{responses}")
        size = f"k={k}, {responses} responses"
        with count_queries() as pages[size]:
            response = client.get(reverse("queue-review", args=[queue.pk]))
            assert response.status_code == 200, response.content[:500]
        item = Assignment.objects.get(reviewer=admin_user, queue=queue).item
        with count_queries() as annotations[size]:
            response = client.post(
                reverse("queue-annotate", args=[queue.pk, item.pk]), data={"decision": "accept"}, HTTP_HX_REQUEST="true"
            )
            assert response.status_code == 200, response.content[:500]
    assert_count_does_not_grow(pages)
    assert_count_does_not_grow(annotations)


def test_agreement_changes_when_a_second_reviewer_annotates(admin_client):
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run, reviewers_per_item=2)
    alice, bob = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    for item in queue.items.all():
        queue_submit(item=item, reviewer=alice, decision="accept")
    page = admin_client.get(reverse("queue-agreement", args=[queue.pk])).content.decode()
    assert alice.username in page
    assert "No unit has two annotations yet" in page
    first, second = queue.items.all()
    queue_submit(item=first, reviewer=bob, decision="accept")
    queue_submit(item=second, reviewer=bob, decision="reject")
    page = admin_client.get(reverse("queue-agreement", args=[queue.pk])).content.decode()
    assert bob.username in page
    assert "Disagreements (1)" in page


def test_a_reviewer_may_correct_the_scores_all_or_none(reviewer_page, reviewer_user):
    _, run = make_run(queries=2, k=1, responses=2)
    queue = make_queue(run)
    token = csrf(reviewer_page, reverse("queue-review", args=[queue.pk]))
    item = Assignment.objects.get(reviewer=reviewer_user).item
    annotate = reverse("queue-annotate", args=[queue.pk, item.pk])
    half = reviewer_page.post(
        annotate,
        {"decision": "reject", "corrected_scores": ["4", ""]},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )
    assert half.status_code == 400
    assert "every response" in half.content.decode()
    assert Annotation.objects.count() == 0
    full = reviewer_page.post(
        annotate,
        {"decision": "reject", "corrected_scores": ["4", "8"]},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )
    assert full.status_code == 200
    assert Annotation.objects.get().corrected_scores == [4, 8]


def test_only_the_holder_annotates_an_item(reviewer_page, reviewer_user):
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run)
    alice = UserFactory.create(roles=["reviewer"])
    held = queue_next(queue=queue, reviewer=alice)
    assert held is not None
    token = csrf(reviewer_page, reverse("queue-review", args=[queue.pk]))  # the page user takes the other item
    answer = reviewer_page.post(
        reverse("queue-annotate", args=[queue.pk, held.pk]),
        {"decision": "accept"},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )
    assert answer.status_code == 409
    assert "not reserved for you" in answer.content.decode()
    assert Annotation.objects.count() == 0


def test_a_refused_plain_post_answers_the_whole_page_with_the_input_kept(reviewer_page, reviewer_user):
    """Without htmx (no script, or a key pressed before htmx took over the form) the answer is still a
    whole page: the site's styles, navigation and keyboard help, the error beside its field."""
    _, run = make_run(queries=1, k=1, responses=2)
    queue = make_queue(run)
    token = csrf(reviewer_page, reverse("queue-review", args=[queue.pk]))
    item = Assignment.objects.get(reviewer=reviewer_user).item
    answer = reviewer_page.post(
        reverse("queue-annotate", args=[queue.pk, item.pk]),
        {"decision": "accept", "corrected_scores": ["7", ""], "note": "keep <me>", "failure_modes": ["parse_failure"]},
        HTTP_X_CSRFTOKEN=token,
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "<html" in html
    assert 'id="review-help"' in html
    assert "app.css" in html
    assert 'id="corrected-scores-error"' in html
    assert 'value="7"' in html
    assert "keep &lt;me&gt;</textarea>" in html
    assert 'value="parse_failure" data-key' in html
    checked = html.split('value="parse_failure"', 1)[1].split(">", 1)[0]
    assert "checked" in checked
    assert Annotation.objects.count() == 0


def test_an_admin_writes_guidelines_that_reviewers_read_beside_each_item(admin_client, reviewer_page, reviewer_user):
    _, run = make_run(queries=1, k=1)
    queue = make_queue(run)
    url = reverse("queue-guidelines", args=[queue.pk])
    assert admin_client.get(url).status_code == 200
    saved = admin_client.post(url, {"guidelines": "Reject **any** critique that <script>x()</script> ignores safety."})
    assert saved.status_code == 302
    page = reviewer_page.get(reverse("queue-review", args=[queue.pk])).content.decode()
    assert 'id="queue-guidelines"' in page  # beside the item
    assert 'id="help-guidelines"' in page  # and in the keyboard help
    assert "Reject <strong>any</strong> critique" in page
    assert "<script>x()" not in page
    assert reviewer_page.get(url).status_code == 403  # reviewers read them; admins write them
    too_long = admin_client.post(url, {"guidelines": "x" * 20_001})
    assert too_long.status_code == 400
    assert b"20000 characters" in too_long.content or b"20,000" in too_long.content


def test_a_label_queue_offers_label_choices_not_the_grm_failure_modes(reviewer_page, reviewer_user):
    dataset, _ = make_run(queries=1, k=1)
    queue = queue_create(
        name="labels", dataset=dataset, run=None, filters=QueueFilters(), priority=ReviewQueue.Priority.UNREVIEWED
    )
    page = reviewer_page.get(reverse("queue-review", args=[queue.pk])).content.decode()
    assert "Label correct" in page
    assert "Label wrong" in page
    assert "Ambiguous" in page
    assert "Incorrect critique" not in page  # a judgment's failure mode: not about a label
    item = Assignment.objects.get(reviewer=reviewer_user).item
    token = reviewer_page.cookies["csrftoken"].value
    answer = reviewer_page.post(
        reverse("queue-annotate", args=[queue.pk, item.pk]),
        {"decision": "reject", "failure_modes": ["label_ambiguous"]},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )
    assert answer.status_code == 200
    annotation = Annotation.objects.get()
    assert annotation.query_id == item.query_id
    assert [mode.code for mode in annotation.failure_modes.all()] == ["label_ambiguous"]


# What the next-item request costs, statement by statement (docs/benchmarks.md, "review"): the session
# (from the cache), the user with its roles, the item with its queue and whether the reviewer
# holds it; the annotation (the item, the assignment and the sample locked, the reviewer's earlier
# annotation, the insert, its failure modes, the sample's decision, the counts); the next reservation
# (the reviewer's held item, the candidate, the re-count, the upsert); the card (responses, samples,
# verdict, the reviewer's annotation, the failure modes, the texts' HTML, the progress). The audit trail
# (issue 14) adds 4: the annotation's log entry, its failure modes' entry and the modes read for it, and
# the content type the first time a process logs an annotation.
NEXT_ITEM_STATEMENTS = 29
QUERY_PAGE_STATEMENTS = 9


def test_the_next_item_and_the_query_page_stay_within_their_statement_budget(admin_user, settings):
    session = int(settings.SESSION_ENGINE.endswith(".db"))  # without Redis, the session is read with SQL too
    client = Client()
    client.login(username=admin_user.username, password=PASSWORD)
    dataset, run = make_run(queries=3, k=8)
    decisions_backfill(run_ids=[run.pk])  # as a worker stores them: with the rule's outcome
    queue = make_queue(run)
    client.get(reverse("queue-review", args=[queue.pk]))
    item = Assignment.objects.get(reviewer=admin_user, queue=queue).item
    with count_queries() as annotate:
        response = client.post(
            reverse("queue-annotate", args=[queue.pk, item.pk]),
            data={"decision": "reject", "failure_modes": ["incorrect_critique"], "note": "units"},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200, response.content[:500]
    # BEGIN, COMMIT and SAVEPOINT are statements too where the backend logs them.
    counted = [sql for sql in annotate.sql if sql.split()[0] not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]
    assert len(counted) <= NEXT_ITEM_STATEMENTS + session, "\n".join(sql[:150] for sql in counted)
    query = dataset.queries.earliest("pk")
    with count_queries() as page:
        assert client.get(reverse("query-detail", args=[dataset.name, query.pk])).status_code == 200
    assert page.count <= QUERY_PAGE_STATEMENTS + session, page
