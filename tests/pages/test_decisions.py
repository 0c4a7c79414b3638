"""The decisions on the query page, adjudicating a held sample (inline with htmx, or from the list of held
samples), resampling a finished run's failed queries with the hint from its page, and the admin: edits
and deletions of annotations there (or cascading from a reviewer's account) move the decisions too."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Adjudication, Annotation, Run, Sample
from reviews.services.annotations import annotation_submit
from reviews.services.decisions import adjudicate
from tests.factories import PASSWORD, QueryFactory, ResponseFactory, RunFactory, UserFactory
from tests.queries import assert_count_does_not_grow, count_queries
from tests.services.judged import judged, store

pytestmark = pytest.mark.django_db

RIGHT, WRONG = [9, 2], [2, 9]
HTMX = {"HX-Request": "true"}


def judged_query(k_scores: list[list[int] | None], **run_options):
    run = RunFactory.create(k=len(k_scores), **run_options)
    query = QueryFactory.create(dataset=run.dataset, best_index=0)
    for position in range(2):
        ResponseFactory.create(query=query, position=position)
    store(run, [judged(query, k_scores)])
    samples = list(Sample.objects.filter(run=run).order_by("sample_index"))
    return run, query, samples


def query_page(client: Client, run: Run, query) -> str:
    url = reverse("query-detail", args=[run.dataset.name, query.pk]) + f"?run={run.pk}"
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def hold(sample: Sample, accept_by, reject_by) -> None:
    annotation_submit(reviewer=accept_by, sample=sample, decision="accept", note="The critique holds.")
    annotation_submit(reviewer=reject_by, sample=sample, decision="reject")


@pytest.fixture
def second_reviewer():
    return UserFactory.create(username="sam-reviewer", roles=["reviewer"])


def test_each_sample_shows_its_decision_reason_and_source(reviewer_client, reviewer_user, second_reviewer, admin_user):
    run, query, (_, _, rescued, held, adjudicated) = judged_query([RIGHT, WRONG, WRONG, WRONG, WRONG])
    annotation_submit(reviewer=reviewer_user, sample=rescued, decision="accept", note="The label is wrong.")
    hold(held, reviewer_user, second_reviewer)
    hold(adjudicated, reviewer_user, second_reviewer)
    adjudicate(sample=adjudicated, decision="accept", note="Sam missed the <b>second</b> check.", admin=admin_user)

    page = query_page(reviewer_client, run, query)
    assert "accepted · correct · rule" in page
    assert "rejected · incorrect · rule" in page
    assert "accepted · reviewer accept · reviewer" in page
    assert "(the rule alone: rejected · incorrect)" in page  # people overrode the rule: its outcome is shown
    assert "held · reviewers disagree" in page
    assert f"accepted · adjudicated by {admin_user.username}" in page
    assert "Sam missed the &lt;b&gt;second&lt;/b&gt; check." in page  # the note is escaped
    assert "Adjudicate" not in page  # reviewers see no form


def test_hinted_samples_are_marked(reviewer_client):
    run, query, _ = judged_query([WRONG], hinted=True)
    Sample.objects.filter(run=run).update(hinted=True)
    page = query_page(reviewer_client, run, query)
    assert ">hinted</span>" in page


def test_an_admin_adjudicates_a_held_sample_inline(admin_client, admin_user, reviewer_user, second_reviewer):
    run, query, (_, held) = judged_query([RIGHT, WRONG])
    hold(held, reviewer_user, second_reviewer)
    page = query_page(admin_client, run, query)
    assert f'hx-post="{reverse("sample-adjudicate", args=[held.pk])}"' in page
    assert f'hx-target="#sample-{held.pk}-decision"' in page

    url = reverse("sample-adjudicate", args=[held.pk])
    response = admin_client.post(url, {"decision": "reject", "note": "Wrong on the facts."}, headers=HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith(f'<div class="decision" id="sample-{held.pk}-decision">')
    assert f"rejected · adjudicated by {admin_user.username}" in fragment
    assert "Wrong on the facts." in fragment
    assert "Change the adjudication" in fragment
    held.refresh_from_db()
    assert (held.decision, held.decision_source) == ("reject", "adjudication")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"decision": "accept", "note": ""}, "note", "This field is required."),
        ({"decision": "accept", "note": "   "}, "note", "This field is required."),
        ({"note": "Because."}, "decision", "This field is required."),
        ({"decision": "maybe", "note": "Because."}, "decision", "Select a valid choice."),
    ],
)
def test_adjudication_errors_are_shown_beside_the_field(
    admin_client, reviewer_user, second_reviewer, data, field, message
):
    _, _, (_, held) = judged_query([RIGHT, WRONG])
    hold(held, reviewer_user, second_reviewer)
    response = admin_client.post(reverse("sample-adjudicate", args=[held.pk]), data, headers=HTMX)
    assert response.status_code == 400
    fragment = response.content.decode()
    assert f'id="sample-{held.pk}-error-{field}"' in fragment
    assert message in fragment
    assert "held · reviewers disagree" in fragment
    assert not Adjudication.objects.exists()


def test_a_sample_without_a_disagreement_is_refused_by_the_service(admin_client, reviewer_user):
    run, _, (sample,) = judged_query([WRONG])
    annotation_submit(reviewer=reviewer_user, sample=sample, decision="reject")
    url = reverse("sample-adjudicate", args=[sample.pk])
    response = admin_client.post(url, {"decision": "accept", "note": "Because."}, headers=HTMX)
    assert response.status_code == 400
    assert f'id="sample-{sample.pk}-error-sample"' in response.content.decode()
    assert "do not disagree" in response.content.decode()
    # Without htmx: back to the query page, the refusal as a message.
    plain = admin_client.post(url, {"decision": "accept", "note": "Because."}, follow=True)
    assert plain.redirect_chain[0][0].endswith(f"?run={run.pk}#sample-{sample.pk}")
    assert "was not adjudicated" in plain.content.decode()


def test_a_plain_form_post_adjudicates_and_goes_back(admin_client, reviewer_user, second_reviewer):
    run, query, (held,) = judged_query([WRONG])
    hold(held, reviewer_user, second_reviewer)
    response = admin_client.post(reverse("sample-adjudicate", args=[held.pk]), {"decision": "accept", "note": "Ok."})
    assert response.status_code == 302
    assert response["Location"] == reverse("query-detail", args=[run.dataset.name, query.pk]) + (
        f"?run={run.pk}#sample-{held.pk}"
    )
    held.refresh_from_db()
    assert held.decision == "accept"


def test_reviewers_may_not_adjudicate(reviewer_client, reviewer_user, second_reviewer):
    _, _, (held,) = judged_query([WRONG])
    hold(held, reviewer_user, second_reviewer)
    response = reviewer_client.post(reverse("sample-adjudicate", args=[held.pk]), {"decision": "accept", "note": "x"})
    assert response.status_code == 403
    assert reviewer_client.get(reverse("adjudication")).status_code == 403
    assert not Adjudication.objects.exists()
    assert b'href="/adjudication/"' not in reviewer_client.get(reverse("home")).content


def test_the_held_list_links_each_sample_and_decides_it_inline(admin_client, reviewer_user, second_reviewer):
    run, query, (agreed, held) = judged_query([WRONG, WRONG])
    hold(held, reviewer_user, second_reviewer)
    annotation_submit(reviewer=reviewer_user, sample=agreed, decision="reject")
    assert b'href="/adjudication/"' in admin_client.get(reverse("home")).content

    page = admin_client.get(reverse("adjudication")).content.decode()
    assert "1 sample held" in page
    assert f'id="held-{held.pk}"' in page
    assert f'id="held-{agreed.pk}"' not in page
    link = reverse("query-detail", args=[run.dataset.name, query.pk]) + f"?run={run.pk}#sample-{held.pk}"
    assert f'href="{link}"' in page
    assert "The critique holds." in page  # what the reviewers said
    assert f'hx-post="{reverse("sample-adjudicate", args=[held.pk])}"' in page

    admin_client.post(reverse("sample-adjudicate", args=[held.pk]), {"decision": "accept", "note": "Ok."}, headers=HTMX)
    assert "0 samples held" in admin_client.get(reverse("adjudication")).content.decode()
    other = admin_client.get(reverse("adjudication"), {"run": run.pk + 1}).content.decode()
    assert "0 samples held" in other


def test_the_held_list_runs_the_same_queries_for_any_number_of_samples(admin_user, reviewer_user, second_reviewer):
    client = Client()
    client.login(username=admin_user.username, password=PASSWORD)
    counted = {}
    for size in (1, 6):
        _, _, samples = judged_query([WRONG] * size)
        for sample in samples:
            hold(sample, reviewer_user, second_reviewer)
        with count_queries() as counted[f"{size} more held"]:
            assert client.get(reverse("adjudication")).status_code == 200
    assert_count_does_not_grow(counted)


def test_the_query_page_queries_do_not_grow_with_adjudications(admin_user, reviewer_user, second_reviewer):
    client = Client()
    client.login(username=admin_user.username, password=PASSWORD)
    counted = {}
    for size in (1, 5):
        run, query, samples = judged_query([WRONG] * size)
        for sample in samples:
            hold(sample, reviewer_user, second_reviewer)
            adjudicate(sample=sample, decision="accept", note="Fine.", admin=admin_user)
        with count_queries() as counted[f"{size} adjudicated"]:
            query_page(client, run, query)
    assert_count_does_not_grow(counted)


# --- Hinted resampling from the run page


@pytest.fixture
def failed_run():
    """A done run whose one labelled query every sample got wrong."""
    run, _, _ = judged_query([WRONG, None])
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
    return run


def test_an_admin_resamples_the_failed_queries_with_the_hint(admin_client, failed_run):
    page = admin_client.get(reverse("run-detail", args=[failed_run.pk])).content.decode()
    assert "Resample 1 query with the hint" in page
    response = admin_client.post(reverse("run-resample-hinted", args=[failed_run.pk]))
    hinted = Run.objects.get(source_run=failed_run)
    assert response.status_code == 302
    assert response["Location"] == reverse("run-detail", args=[hinted.pk])
    assert (hinted.hinted, hinted.k) == (True, 1)

    hinted_page = admin_client.get(reverse("run-detail", args=[hinted.pk])).content.decode()
    assert f'href="{reverse("run-detail", args=[failed_run.pk])}">run {failed_run.pk}</a> with the hint' in hinted_page
    source_page = admin_client.get(reverse("run-detail", args=[failed_run.pk])).content.decode()
    assert f">run {hinted.pk}</a> (Queued, 1 query)" in source_page
    assert "Resample 1 query" not in source_page  # covered by the hinted run now

    again = admin_client.post(reverse("run-resample-hinted", args=[failed_run.pk]), follow=True)
    assert "no query left to resample" in again.content.decode()
    assert Run.objects.filter(source_run=failed_run).count() == 1


def test_reviewers_see_no_button_and_may_not_resample(reviewer_client, failed_run):
    page = reviewer_client.get(reverse("run-detail", args=[failed_run.pk])).content.decode()
    assert "with the hint</button>" not in page
    assert reviewer_client.post(reverse("run-resample-hinted", args=[failed_run.pk])).status_code == 403
    assert not Run.objects.filter(source_run=failed_run).exists()


def test_no_button_before_the_run_is_done(admin_client, failed_run):
    Run.objects.filter(pk=failed_run.pk).update(status=Run.Status.RUNNING)
    page = admin_client.get(reverse("run-detail", args=[failed_run.pk])).content.decode()
    assert "with the hint</button>" not in page
    refused = admin_client.post(reverse("run-resample-hinted", args=[failed_run.pk]), follow=True)
    assert "once it is done" in refused.content.decode()


# --- The Django admin


def test_adjudications_are_listed_read_only_in_the_admin(admin_client, admin_user, reviewer_user, second_reviewer):
    _, _, (held,) = judged_query([WRONG])
    hold(held, reviewer_user, second_reviewer)
    adjudication = adjudicate(sample=held, decision="reject", note="Listed in the admin.", admin=admin_user)
    changelist = admin_client.get(reverse("admin:reviews_adjudication_changelist"))
    assert changelist.status_code == 200
    assert "Listed in the admin." in changelist.content.decode()
    change = admin_client.get(reverse("admin:reviews_adjudication_change", args=[adjudication.pk]))
    assert change.status_code == 200
    assert 'name="note"' not in change.content.decode()  # view only
    assert admin_client.get(reverse("admin:reviews_adjudication_add")).status_code == 403


def test_the_run_admin_action_resamples_with_the_hint(admin_client, failed_run):
    response = admin_client.post(
        reverse("admin:reviews_run_changelist"),
        {"action": "resample_hinted", "_selected_action": [failed_run.pk]},
        follow=True,
    )
    hinted = Run.objects.get(source_run=failed_run)
    assert f"hinted run {hinted.pk} queued, 1 query." in response.content.decode()
    again = admin_client.post(
        reverse("admin:reviews_run_changelist"),
        {"action": "resample_hinted", "_selected_action": [failed_run.pk, hinted.pk]},
        follow=True,
    ).content.decode()
    assert "no query left to resample" in again
    assert "itself hinted" in again


def decision_of(sample: Sample) -> tuple[str, str, str]:
    sample.refresh_from_db()
    return sample.decision, sample.decision_reason, sample.decision_source


def annotation_change(client: Client, annotation: Annotation, **fields):
    """Post the annotation's admin change form with these fields changed."""
    data = {
        "sample": annotation.sample_id,
        "query": "",
        "reviewer": annotation.reviewer_id,
        "decision": annotation.decision,
        "note": annotation.note,
        "corrected_scores": "null",
        "time_spent_ms": annotation.time_spent_ms,
        **fields,
    }
    response = client.post(reverse("admin:reviews_annotation_change", args=[annotation.pk]), data)
    assert response.status_code == 302, response.content.decode()[-2000:]


def test_editing_an_annotation_in_the_admin_moves_its_samples_decision(admin_client, reviewer_user):
    _, _, (right, other, _) = judged_query([RIGHT, RIGHT, WRONG])
    annotation = annotation_submit(reviewer=reviewer_user, sample=right, decision="accept")
    annotation_change(admin_client, annotation, decision="reject")
    assert decision_of(right) == ("reject", "reviewer_reject", "reviewer")
    annotation_change(admin_client, annotation, decision="reject", sample=other.pk)  # moved to another sample
    assert decision_of(right) == ("accept", "correct", "rule")
    assert decision_of(other) == ("reject", "reviewer_reject", "reviewer")


def test_deleting_annotations_in_the_admin_moves_their_samples_decision(
    admin_client, reviewer_user, second_reviewer, django_capture_on_commit_callbacks
):
    _, _, (one, two) = judged_query([WRONG, WRONG])
    hold(one, reviewer_user, second_reviewer)
    hold(two, reviewer_user, second_reviewer)
    rejection = Annotation.objects.get(sample=one, reviewer=second_reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = admin_client.post(reverse("admin:reviews_annotation_delete", args=[rejection.pk]), {"post": "yes"})
    assert deleted.status_code == 302
    assert decision_of(one) == ("accept", "reviewer_accept", "reviewer")  # no longer held

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:reviews_annotation_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": list(Annotation.objects.values_list("pk", flat=True)),
                "post": "yes",
            },
        )
    assert not Annotation.objects.exists()
    assert decision_of(one) == decision_of(two) == ("reject", "incorrect", "rule")


def test_deleting_a_reviewer_takes_their_word_off_the_decisions(
    reviewer_user, second_reviewer, django_capture_on_commit_callbacks
):
    _, _, (right, held) = judged_query([RIGHT, WRONG])
    annotation_submit(reviewer=second_reviewer, sample=right, decision="reject")
    hold(held, reviewer_user, second_reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        second_reviewer.delete()  # their annotations cascade away
    assert decision_of(right) == ("accept", "correct", "rule")
    assert decision_of(held) == ("accept", "reviewer_accept", "reviewer")


def test_deleting_a_run_with_annotations_needs_no_decision(reviewer_user, django_capture_on_commit_callbacks):
    run, _, (sample,) = judged_query([RIGHT])
    annotation_submit(reviewer=reviewer_user, sample=sample, decision="reject")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run.delete()  # samples and their annotations cascade away: nothing left to decide
    assert callbacks
    assert not Sample.objects.exists()


def test_the_sample_admin_shows_decisions_read_only(admin_client, reviewer_user):
    _, _, (sample,) = judged_query([RIGHT])
    page = admin_client.get(reverse("admin:reviews_sample_change", args=[sample.pk])).content.decode()
    assert 'name="principles"' in page
    for field in ["correct", "rule_reason", "decision", "decision_reason", "decision_source"]:
        assert f'name="{field}"' not in page, field
