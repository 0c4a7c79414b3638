"""The audit trail (issue 14): who created, changed or deleted an annotation, a role, a token, a run, a
queue or a release, and when, with the previous values; kept after the object is deleted; by the
signed-in user in pages and the token's user in the API; visible to admins in the admin site."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from reviews.models import Annotation, FailureMode, Run
from reviews.services.accounts import api_token_create, api_token_revoke
from reviews.services.annotations import annotation_submit
from reviews.services.queues import queue_active_set, queue_guidelines_set
from tests.factories import UserFactory, make_queue, make_run

pytestmark = pytest.mark.django_db


def entries(instance) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(instance).order_by("id"))


def test_an_annotation_s_creation_edit_and_deletion_are_kept_with_the_previous_values(reviewer_user):
    _, run = make_run(queries=1, k=1)
    sample = run.samples.get()
    first = annotation_submit(reviewer=reviewer_user, sample=sample, decision="accept", note="looks right")
    modes = list(FailureMode.objects.filter(code="incorrect_critique"))
    assert modes
    annotation_submit(
        reviewer=reviewer_user, sample=sample, decision="reject", note="wrong critique", failure_modes=modes
    )
    created, changed, *more = entries(first)
    assert created.action == LogEntry.Action.CREATE
    assert changed.action == LogEntry.Action.UPDATE
    assert changed.changes_dict["decision"] == ["accept", "reject"]
    assert changed.changes_dict["note"] == ["looks right", "wrong critique"]
    assert any("failure_modes" in entry.changes_dict for entry in more)  # the modes added
    pk = first.pk
    Annotation.objects.filter(pk=pk).delete()
    deleted = LogEntry.objects.filter(object_pk=str(pk), action=LogEntry.Action.DELETE).get()
    assert deleted.content_type.model == "annotation"
    assert LogEntry.objects.filter(object_pk=str(pk)).count() >= 3  # kept after the deletion


def test_roles_tokens_runs_and_queues_are_audited(admin_user):
    user = UserFactory.create(username="newcomer")
    user.groups.add(Group.objects.get(name="reviewer"))
    role = [entry for entry in entries(user) if "groups" in entry.changes_dict]
    assert role
    assert role[0].changes_dict["groups"]["objects"] == ["reviewer"]

    token, _ = api_token_create(user=user, name="script")
    api_token_revoke(token=token)
    token_entries = entries(token)
    assert [entry.action for entry in token_entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert token_entries[1].changes_dict["revoked_at"][0] == "None"
    assert "key_hash" not in token_entries[0].changes_dict  # never the token's hash

    dataset, run = make_run(queries=1, k=1)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    run.refresh_from_db()
    from reviews.services.runs import run_cancel

    assert run_cancel(run=run)
    assert entries(run)[-1].changes_dict["status"] == ["running", "cancelled"]

    queue = make_queue(run, dataset)
    queue_guidelines_set(queue=queue, guidelines="Read the critique first.")
    queue_active_set(queue=queue, active=False)
    changed = [entry.changes_dict for entry in entries(queue)]
    assert {"guidelines": ["", "Read the critique first."]} in changed
    assert {"active": ["True", "False"]} in changed
    queue_active_set(queue=queue, active=False)  # no change: nothing recorded
    assert len(entries(queue)) == len(changed)


def test_the_actor_is_the_signed_in_user_in_pages_and_the_token_s_user_in_the_api(admin_user, admin_client):
    _dataset, run = make_run(queries=1, k=1)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    assert admin_client.post(reverse("run-cancel", args=[run.pk])).status_code in (200, 302)
    assert entries(run)[-1].actor == admin_user

    bot = UserFactory.create(username="bot", roles=["admin"])
    _, raw = api_token_create(user=bot, name="pipeline")
    _, other = make_run(queries=1, k=1)
    Run.objects.filter(pk=other.pk).update(status=Run.Status.RUNNING)
    answer = Client().post(f"/api/v1/runs/{other.pk}/cancel/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert answer.status_code == 200, answer.content
    assert entries(other)[-1].actor == bot


def test_admins_read_the_trail_in_the_admin_site_and_reviewers_do_not(admin_user, reviewer_user):
    annotation_submit(reviewer=reviewer_user, sample=make_run(queries=1, k=1)[1].samples.get(), decision="accept")
    admin = Client()
    admin.force_login(admin_user)
    listing = admin.get("/admin/auditlog/logentry/")
    assert listing.status_code == 200
    assert "annotation" in listing.content.decode().lower()
    reviewer = Client()
    reviewer.force_login(reviewer_user)
    assert reviewer.get("/admin/auditlog/logentry/").status_code in (302, 403)
