"""The "my annotations" page: a reviewer's own annotations with filters, each editable (issue 12)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews.models import Annotation, FailureMode, Sample
from reviews.services.annotations import annotation_submit
from tests.factories import PASSWORD, UserFactory, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotated(reviewer_user):
    _, run = make_run(queries=3, k=1)
    samples = list(Sample.objects.filter(run=run).order_by("query_id"))
    mode = FailureMode.objects.get(code="incorrect_critique")
    mine = [
        annotation_submit(reviewer=reviewer_user, sample=samples[0], decision="reject", failure_modes=[mode]),
        annotation_submit(reviewer=reviewer_user, sample=samples[1], decision="accept", note="fine <b>really</b>"),
    ]
    other = UserFactory.create(roles=["reviewer"])
    theirs = annotation_submit(reviewer=other, sample=samples[2], decision="reject", note="someone else's")
    return run, samples, mine, theirs


def test_the_page_lists_only_my_annotations_and_filters_them(client, reviewer_user, annotated):
    run, _, mine, _ = annotated
    client.login(username=reviewer_user.username, password=PASSWORD)
    page = client.get(reverse("my-annotations")).content.decode()
    assert f'id="annotation-{mine[0].pk}"' in page
    assert f'id="annotation-{mine[1].pk}"' in page
    assert "someone else" not in page
    assert "fine &lt;b&gt;really&lt;/b&gt;" in page  # a note is text, escaped
    rejected = client.get(reverse("my-annotations"), {"decision": "reject"}).content.decode()
    assert f'id="annotation-{mine[0].pk}"' in rejected
    assert f'id="annotation-{mine[1].pk}"' not in rejected
    by_mode = client.get(reverse("my-annotations"), {"failure_mode": "incorrect_critique", "run": run.pk}).content
    assert f'id="annotation-{mine[0].pk}"'.encode() in by_mode
    assert b"1 annotation<" in by_mode
    bad = client.get(reverse("my-annotations"), {"run": "x"})
    assert bad.status_code == 200
    assert b"Enter a whole number" in bad.content


def test_an_edit_changes_my_annotation_and_the_samples_decision(client, reviewer_user, annotated):
    _, samples, mine, theirs = annotated
    client.login(username=reviewer_user.username, password=PASSWORD)
    edit = reverse("annotation-edit", args=[mine[0].pk])
    form = client.get(edit)
    assert form.status_code == 200
    assert b'value="incorrect_critique" checked' in form.content
    back = reverse("my-annotations") + "?decision=reject"
    saved = client.post(edit, {"decision": "accept", "note": "changed my mind", "next": back})
    assert saved.status_code == 302
    assert saved["Location"] == back
    annotation = Annotation.objects.get(pk=mine[0].pk)
    assert (annotation.decision, annotation.note, list(annotation.failure_modes.all())) == (
        "accept",
        "changed my mind",
        [],
    )
    samples[0].refresh_from_db()
    assert samples[0].decision_source == "reviewer"
    assert Annotation.objects.filter(reviewer=reviewer_user).count() == 2  # the same one, changed
    offsite = client.post(edit, {"decision": "accept", "next": "https://evil.example/"})
    assert offsite["Location"] == reverse("my-annotations")
    assert client.get(reverse("annotation-edit", args=[theirs.pk])).status_code == 404


def test_a_refused_edit_keeps_the_input_with_the_error_beside_it(client, reviewer_user, annotated):
    _, _, mine, _ = annotated
    client.login(username=reviewer_user.username, password=PASSWORD)
    answer = client.post(
        reverse("annotation-edit", args=[mine[1].pk]),
        {"decision": "reject", "corrected_scores": ["4", ""], "note": "half done"},
    )
    assert answer.status_code == 400
    page = answer.content.decode()
    assert 'id="corrected-scores-error"' in page
    assert 'value="4"' in page
    assert "half done</textarea>" in page
    assert Annotation.objects.get(pk=mine[1].pk).decision == "accept"  # nothing saved


def test_people_without_the_reviewer_role_cannot_see_the_page(client):
    outsider = UserFactory.create(roles=[])
    client.login(username=outsider.username, password=PASSWORD)
    assert client.get(reverse("my-annotations")).status_code == 403
