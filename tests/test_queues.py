"""Review queues: building and ranking, reservations, skipping, submitting, the pages and their query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviews import queue_services, services
from reviews.models import Annotation, Assignment, FailureMode, QueueItem, ReviewQueue, Sample
from tests.factories import (
    PASSWORD,
    DatasetFactory,
    QueryFactory,
    ResponseFactory,
    RunFactory,
    SampleFactory,
    UserFactory,
    VerdictFactory,
)

pytestmark = pytest.mark.django_db


def make_run(queries: int = 3, k: int = 2, responses: int = 2):
    dataset = DatasetFactory.create()
    run = RunFactory.create(dataset=dataset, k=k)
    for n in range(queries):
        query = QueryFactory.create(dataset=dataset, best_index=0)
        for position in range(responses):
            ResponseFactory.create(query=query, position=position, text=f"**Answer** {position} of {n}")
        for index in range(k):
            wrong = n == queries - 1 and index == 0
            scores = [3] + [7] * (responses - 1) if wrong else [9] + [2] * (responses - 1)
            SampleFactory.create(
                run=run,
                query=query,
                sample_index=index,
                permutation=list(range(responses)),
                scores=scores,
                correct=not wrong,
                meta_score=float(index - n),
                principles="1. Accuracy (weight 60%)",
                critique="Response 1 is *right*.",
            )
        VerdictFactory.create(run=run, query=query, vote_totals=[9 * k] + [2 * k] * (responses - 1), vote_entropy=n)
    return dataset, run


def build(run, dataset=None, **options) -> ReviewQueue:
    return queue_services.queue_create(
        name=options.pop("name", "q"),
        dataset=dataset or run.dataset,
        run=run,
        filters=options.pop("filters", queue_services.QueueFilters()),
        priority=options.pop("priority", ReviewQueue.Priority.UNREVIEWED),
        **options,
    )


def ranked(queue: ReviewQueue) -> list[tuple[int, int]]:
    return [(item.query_id, sample_of(item).sample_index) for item in queue.items.select_related("sample")]


def sample_of(item: QueueItem) -> Sample:
    assert item.sample is not None
    return item.sample


def take(queue: ReviewQueue, reviewer) -> QueueItem:
    item = queue_services.queue_next(queue=queue, reviewer=reviewer)
    assert item is not None
    return item


def test_a_run_queue_holds_one_item_per_judgment_in_priority_order():
    dataset, run = make_run(queries=3, k=2)
    queue = build(run, priority=ReviewQueue.Priority.AUTO_REJECTED)
    assert queue.item_count == 6
    wrong = Sample.objects.get(correct=False)
    assert ranked(queue)[0] == (wrong.query_id, wrong.sample_index)
    by_entropy = build(run, priority=ReviewQueue.Priority.DISAGREEMENT)
    assert [query for query, _ in ranked(by_entropy)][::2] == sorted(
        dataset.queries.values_list("id", flat=True), reverse=True
    )
    uncertain = build(run, priority=ReviewQueue.Priority.META_UNCERTAIN)
    metas = [abs(sample_of(item).meta_score or 0) for item in uncertain.items.select_related("sample")]
    assert metas == sorted(metas)
    only_wrong = build(run, filters=queue_services.QueueFilters(correct=False))
    assert only_wrong.item_count == 1


def test_a_dataset_queue_reviews_queries_and_rejects_run_only_options():
    dataset, _ = make_run(queries=3)
    queue = queue_services.queue_create(
        name="labels", dataset=dataset, run=None, filters=queue_services.QueueFilters(), priority="unreviewed"
    )
    assert queue.item_count == 3
    assert not queue.items.filter(sample__isnull=False).exists()
    with pytest.raises(queue_services.QueueInvalid, match="choose a run"):
        queue_services.queue_create(
            name="x", dataset=dataset, run=None, filters=queue_services.QueueFilters(), priority="disagreement"
        )
    with pytest.raises(queue_services.QueueInvalid, match="no items"):
        queue_services.queue_create(
            name="x",
            dataset=dataset,
            run=None,
            filters=queue_services.QueueFilters(subset="nope"),
            priority="unreviewed",
        )


def test_a_reservation_keeps_two_reviewers_off_one_item_until_it_expires():
    _, run = make_run(queries=2, k=1)
    queue = build(run)
    alice, bob = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    first = queue_services.queue_next(queue=queue, reviewer=alice)
    assert queue_services.queue_next(queue=queue, reviewer=alice) == first  # she keeps her item
    second = queue_services.queue_next(queue=queue, reviewer=bob)
    assert second is not None
    assert second != first
    carol = UserFactory.create(roles=["reviewer"])
    assert queue_services.queue_next(queue=queue, reviewer=carol) is None  # both held
    Assignment.objects.filter(reviewer=alice).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert queue_services.queue_next(queue=queue, reviewer=carol) == first


def test_a_queue_can_ask_for_several_reviewers_per_item():
    _, run = make_run(queries=1, k=1)
    queue = build(run, reviewers_per_item=2)
    alice, bob, carol = (UserFactory.create(roles=["reviewer"]) for _ in range(3))
    item = take(queue, alice)
    assert queue_services.queue_next(queue=queue, reviewer=bob) == item
    assert queue_services.queue_next(queue=queue, reviewer=carol) is None
    queue_services.queue_submit(item=item, reviewer=alice, decision="accept")
    queue_services.queue_submit(item=item, reviewer=bob, decision="reject")
    item.refresh_from_db()
    assert (item.done_count, item.is_open) == (2, False)


def test_submitting_twice_stores_one_annotation_and_counts_once_and_skips_are_not_offered_again():
    _, run = make_run(queries=2, k=1)
    queue = build(run)
    alice = UserFactory.create(roles=["reviewer"])
    item = take(queue, alice)
    mode = FailureMode.objects.get(code="incorrect_critique")
    for _ in range(2):
        queue_services.queue_submit(item=item, reviewer=alice, decision="reject", failure_modes=[mode])
    item.refresh_from_db()
    assert item.done_count == 1
    assert Annotation.objects.count() == 1
    annotation = Annotation.objects.get()
    assert annotation.sample_id == item.sample_id
    assert list(annotation.failure_modes.all()) == [mode]
    assert annotation.time_spent_ms >= 0
    following = take(queue, alice)
    assert following != item
    queue_services.queue_skip(item=following, reviewer=alice)
    assert queue_services.queue_next(queue=queue, reviewer=alice) is None
    queue_services.queue_skip(item=item, reviewer=alice)  # a skip never undoes an annotation
    assert Assignment.objects.get(item=item).state == Assignment.State.DONE


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
    queue = build(run, priority=ReviewQueue.Priority.AUTO_REJECTED)
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


def test_posts_without_a_csrf_token_are_refused(reviewer_page):
    _, run = make_run(queries=1, k=1)
    queue = build(run)
    reviewer_page.get(reverse("queue-review", args=[queue.pk]))
    item = QueueItem.objects.get()
    assert (
        reviewer_page.post(reverse("queue-annotate", args=[queue.pk, item.pk]), {"decision": "accept"}).status_code
        == 403
    )
    assert reviewer_page.post(reverse("queue-skip", args=[queue.pk, item.pk])).status_code == 403
    assert Annotation.objects.count() == 0


def test_a_bad_decision_is_a_400_that_keeps_the_item(reviewer_page):
    _, run = make_run(queries=1, k=1)
    queue = build(run)
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
    dataset, run = make_run(queries=2, k=1)
    page = admin_client.get(reverse("queue-new"))
    assert page.status_code == 200
    answer = admin_client.post(
        reverse("queue-new"),
        {
            "name": "wrong ones",
            "dataset": dataset.name,
            "run": run.pk,
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


def count_queries(client: Client, method: str, url: str, **kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, **kwargs)
        assert response.status_code == 200, response.content[:500]
    return len(captured)


def test_the_review_page_and_the_next_item_request_run_the_same_queries_for_any_k(admin_user):
    client = Client()
    client.login(username=admin_user.username, password=PASSWORD)
    counts = {}
    for k, responses in [(4, 2), (32, 2), (4, 8)]:
        _, run = make_run(queries=3, k=k, responses=responses)
        queue = build(run, name=f"k{k}-r{responses}")
        page = count_queries(client, "get", reverse("queue-review", args=[queue.pk]))
        item = Assignment.objects.get(reviewer=admin_user, queue=queue).item
        annotate = count_queries(
            client,
            "post",
            reverse("queue-annotate", args=[queue.pk, item.pk]),
            data={"decision": "accept"},
            HTTP_HX_REQUEST="true",
        )
        counts[(k, responses)] = (page, annotate)
    assert len(set(counts.values())) == 1, counts


def test_agreement_changes_when_a_second_reviewer_annotates(admin_client):
    _, run = make_run(queries=2, k=1)
    queue = build(run, reviewers_per_item=2)
    alice, bob = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    for item in queue.items.all():
        queue_services.queue_submit(item=item, reviewer=alice, decision="accept")
    page = admin_client.get(reverse("queue-agreement", args=[queue.pk])).content.decode()
    assert alice.username in page
    assert "No unit has two annotations yet" in page
    first, second = queue.items.all()
    queue_services.queue_submit(item=first, reviewer=bob, decision="accept")
    queue_services.queue_submit(item=second, reviewer=bob, decision="reject")
    page = admin_client.get(reverse("queue-agreement", args=[queue.pk])).content.decode()
    assert bob.username in page
    assert "Disagreements (1)" in page


def test_a_reviewer_may_correct_the_scores_all_or_none(reviewer_page, reviewer_user):
    _, run = make_run(queries=2, k=1, responses=2)
    queue = build(run)
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


def test_the_completed_count_follows_items_that_get_all_their_reviews():
    _, run = make_run(queries=2, k=1)
    queue = build(run, reviewers_per_item=2)
    alice, bob = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    first = take(queue, alice)
    queue_services.queue_submit(item=first, reviewer=alice, decision="accept")
    queue.refresh_from_db()
    assert queue.completed_count == 0
    queue_services.queue_submit(item=first, reviewer=bob, decision="accept")
    queue_services.queue_submit(item=first, reviewer=bob, decision="reject")  # again: counts once
    queue.refresh_from_db()
    assert queue.completed_count == 1


def test_only_the_holder_annotates_an_item_and_a_closed_item_takes_no_late_review(reviewer_page, reviewer_user):
    _, run = make_run(queries=2, k=1)
    queue = build(run)
    alice = UserFactory.create(roles=["reviewer"])
    held = take(queue, alice)
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
    # Alice's reservation expires, Bob takes and finishes the item; her late answer is refused.
    Assignment.objects.filter(reviewer=alice).update(expires_at=timezone.now() - timedelta(seconds=1))
    bob = UserFactory.create(roles=["reviewer"])
    assert take(queue, bob) == held
    queue_services.queue_submit(item=held, reviewer=bob, decision="accept")
    with pytest.raises(services.AnnotationInvalid, match="already has the reviews"):
        queue_services.queue_submit(item=held, reviewer=alice, decision="reject")
    held.refresh_from_db()
    assert held.done_count == 1
