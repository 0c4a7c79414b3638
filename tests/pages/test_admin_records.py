"""The admin site keeps records as records (issue 13): a finished run is read only (its round aside), runs are
not added there, uploads are listed with their outcome and bad lines and never edited, queues are listed with
filters and hidden or shown through the queue service; the actions are the admin role's alone."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import ReviewQueue, Run, Upload, UploadError
from reviews.services.rounds import round_create
from tests.factories import PASSWORD, UploadFactory, UserFactory, make_queue, make_run

pytestmark = pytest.mark.django_db


def act(client: Client, model: str, action: str, ids: list[int]):
    url = reverse(f"admin:reviews_{model}_changelist")
    return client.post(url, {"action": action, "_selected_action": [str(pk) for pk in ids]}, follow=True)


@pytest.fixture
def staff_reviewer_client(db) -> Client:
    user = UserFactory.create(username="sam-staff", roles=["reviewer"], is_staff=True)
    client = Client()
    client.login(username=user.username, password=PASSWORD)
    return client


def test_a_finished_run_is_read_only_but_for_its_round(admin_client):
    _, run = make_run(queries=1, k=1)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, report={"version": 2})
    url = reverse("admin:reviews_run_change", args=[run.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="status"' not in page
    assert 'name="report"' not in page
    assert 'name="k"' not in page
    assert 'name="rft_round"' in page
    round_ = round_create(name="moved")
    answer = admin_client.post(url, {"rft_round": round_.pk, "status": "queued", "report": "{}", "k": 99})
    assert answer.status_code == 302
    run.refresh_from_db()
    assert (run.rft_round, run.status, run.report, run.k) == (round_, Run.Status.DONE, {"version": 2}, 1)


def test_a_running_run_s_status_and_figures_are_the_worker_s(admin_client):
    _, run = make_run(queries=1, k=1)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    page = admin_client.get(reverse("admin:reviews_run_change", args=[run.pk])).content.decode()
    assert 'name="status"' not in page
    assert 'name="queries_done"' not in page
    assert 'name="error_message"' not in page
    assert admin_client.get(reverse("admin:reviews_run_add")).status_code == 403


def test_the_cancel_action_cancels_through_the_service(admin_client, staff_reviewer_client):
    _, running = make_run(queries=1, k=1)
    _, done = make_run(queries=1, k=1)
    Run.objects.filter(pk=running.pk).update(status=Run.Status.RUNNING)
    Run.objects.filter(pk=done.pk).update(status=Run.Status.DONE)
    act(staff_reviewer_client, "run", "cancel", [running.pk])
    assert Run.objects.get(pk=running.pk).status == Run.Status.RUNNING  # not theirs to do
    page = act(admin_client, "run", "cancel", [running.pk, done.pk]).content.decode()
    assert Run.objects.get(pk=running.pk).status == Run.Status.CANCELLED
    assert Run.objects.get(pk=done.pk).status == Run.Status.DONE
    assert f"Run {running.pk} cancelled." in page
    assert f"Run {done.pk} had already ended." in page


def test_uploads_are_listed_with_filters_and_never_edited(admin_client):
    failed = UploadFactory.create(dataset_name="a", status=Upload.Status.PARTIAL, error_count=1)
    UploadError.objects.create(upload=failed, line=3, field="responses", message="must be a list")
    UploadFactory.create(dataset_name="b", status=Upload.Status.DONE)
    changelist = reverse("admin:reviews_upload_changelist")
    listed = admin_client.get(changelist, {"status__exact": "partial"})
    assert [upload.pk for upload in listed.context["cl"].result_list] == [failed.pk]
    page = admin_client.get(reverse("admin:reviews_upload_change", args=[failed.pk])).content.decode()
    assert "must be a list" in page  # the bad lines, inline
    assert 'name="status"' not in page
    refused = admin_client.post(reverse("admin:reviews_upload_change", args=[failed.pk]), {"status": "done"})
    assert refused.status_code == 403
    assert Upload.objects.get(pk=failed.pk).status == Upload.Status.PARTIAL
    assert admin_client.get(reverse("admin:reviews_upload_add")).status_code == 403


def test_queues_are_listed_and_hidden_or_shown_by_admins_only(admin_client, staff_reviewer_client):
    _, run = make_run(queries=2, k=1)
    queue = make_queue(run, name="first")
    other = make_queue(run, name="second", reviewers_per_item=2)
    listed = admin_client.get(reverse("admin:reviews_reviewqueue_changelist"), {"q": "second"})
    assert [row.pk for row in listed.context["cl"].result_list] == [other.pk]
    staff_page = staff_reviewer_client.get(reverse("admin:reviews_reviewqueue_changelist")).content.decode()
    assert 'value="deactivate"' not in staff_page
    act(staff_reviewer_client, "reviewqueue", "deactivate", [queue.pk])
    assert ReviewQueue.objects.get(pk=queue.pk).active
    act(admin_client, "reviewqueue", "deactivate", [queue.pk])
    assert not ReviewQueue.objects.get(pk=queue.pk).active
    act(admin_client, "reviewqueue", "activate", [queue.pk])
    assert ReviewQueue.objects.get(pk=queue.pk).active
    page = admin_client.get(reverse("admin:reviews_reviewqueue_change", args=[queue.pk])).content.decode()
    assert 'name="item_count"' not in page
    assert reverse("queue-guidelines", args=[queue.pk]) in page
