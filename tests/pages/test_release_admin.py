"""The admin's release actions on datasets, runs and rounds (one per kind), the other actions that write,
all the admin role's alone, and the read-only release admin with its link to the release page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from reviews import enqueue
from reviews.errors import ReleaseInvalid
from reviews.models import ApiToken, MetaRmCheckpoint, Release, Round, Run
from reviews.services.accounts import api_token_create
from tests.factories import PASSWORD, ReleaseFactory, UserFactory
from tests.release_data import judged_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def release_dir(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"
    return settings.GRM_RELEASE_DIR


def act(client, model: str, action: str, ids: list[int]):
    url = reverse(f"admin:reviews_{model}_changelist")
    return client.post(url, {"action": action, "_selected_action": [str(pk) for pk in ids]}, follow=True)


@pytest.mark.parametrize("kind", Release.Kind.values)
def test_each_kind_builds_from_selected_runs_and_links_the_release(
    admin_client, admin_user, kind, sent_tasks, django_capture_on_commit_callbacks
):
    _, first = judged_dataset("one")
    _, second = judged_dataset("two")
    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "run", f"build_{kind}_release", [second.id, first.id])
    assert response.status_code == 200
    release = Release.objects.get()
    assert (release.kind, release.filters, release.created_by) == (kind, {"run": [first.id, second.id]}, admin_user)
    assert sent_tasks.ids(enqueue.RELEASE_BUILD) == [release.id]
    page = response.content.decode()
    assert f'Release <a href="{reverse("release-detail", args=[release.id])}">{release}</a> ({kind}) queued' in page


def test_datasets_build_one_release_of_all_the_selected(admin_client):
    one, _ = judged_dataset("one")
    two, _ = judged_dataset("two")
    act(admin_client, "dataset", "build_rl_prompts_release", [one.id, two.id])
    release = Release.objects.get()
    assert (release.kind, release.filters, release.name) == (
        "rl_prompts",
        {"dataset": ["one", "two"]},
        "rl-prompts-one-two",
    )


def test_rounds_build_one_release_each(admin_client):
    _, run = judged_dataset("main")
    first, second = Round.objects.create(number=1), Round.objects.create(number=2)
    run.rft_round = first
    run.save()
    response = act(admin_client, "round", "build_pairs_release", [second.id, first.id])
    releases = list(Release.objects.order_by("id"))
    assert [(release.filters, release.rft_round) for release in releases] == [
        ({"round": 1}, first),
        ({"round": 2}, second),
    ]
    page = response.content.decode()
    for release in releases:
        assert f'<a href="{reverse("release-detail", args=[release.id])}">{release}</a> (pairs) queued' in page


def test_a_refused_definition_is_an_error_message(admin_client, monkeypatch):
    dataset, _ = judged_dataset("main")

    def refuse(**kwargs):
        raise ReleaseInvalid("no dataset named main", field="dataset")

    monkeypatch.setattr("reviews.services.releases.release_create", refuse)
    response = act(admin_client, "dataset", "build_rft_sft_release", [dataset.id])
    page = response.content.decode()
    assert "No rft_sft release of {&#x27;dataset&#x27;: [&#x27;main&#x27;]}: no dataset named main" in page
    assert 'class="error"' in page
    assert not Release.objects.exists()


def test_the_release_admin_is_read_only_and_links_the_release_page(admin_client):
    release = ReleaseFactory.create(status=Release.Status.BUILDING, rows_done=1, rows_total=4)
    changelist = admin_client.get(reverse("admin:reviews_release_changelist")).content.decode()
    assert f'<a href="{reverse("release-detail", args=[release.id])}">manifest and files</a>' in changelist
    assert "Building" in changelist
    assert "25" in changelist
    assert admin_client.get(reverse("admin:reviews_release_add")).status_code == 403
    change_url = reverse("admin:reviews_release_change", args=[release.id])
    assert 'name="_save"' not in admin_client.get(change_url).content.decode()
    assert admin_client.post(change_url, {"name": "renamed"}).status_code == 403
    release.refresh_from_db()
    assert release.name != "renamed"


RELEASE_ACTIONS = [f"build_{kind}_release" for kind in Release.Kind.values]
# Every action of ours that writes, by the model whose changelist offers it.
ACTIONS = {
    "dataset": RELEASE_ACTIONS,
    "round": RELEASE_ACTIONS,
    "run": ["train_metarm", "meta_score", "resample_hinted", *RELEASE_ACTIONS],
    "metarmcheckpoint": ["activate"],
    "apitoken": ["revoke"],
}


@pytest.fixture
def staff_reviewer_client(db) -> Client:
    """A reviewer let into the admin, who can view every changelist (migrations 0002 and 0011; tokens
    granted here too)."""
    user = UserFactory.create(username="sam-staff", roles=["reviewer"], is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_apitoken"]))
    client = Client()
    client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def one_of_each_selectable(admin_user) -> dict[str, list[int]]:
    """A row to select on each changelist with actions (the admin offers none on an empty list): a
    finished run with a query every sample got wrong (so that every run action writes), a round, a ready
    checkpoint beside the active one, and a token. The admin role manages checkpoints (migration 0011)."""
    dataset, run = judged_dataset("main")
    Run.objects.filter(pk=run.pk).update(rft_round=Round.objects.create(number=1))
    MetaRmCheckpoint.objects.create(name="metarm-a", status=MetaRmCheckpoint.Status.READY, is_active=True)
    checkpoint = MetaRmCheckpoint.objects.create(name="metarm-b", status=MetaRmCheckpoint.Status.READY)
    token, _ = api_token_create(user=admin_user, name="script")
    return {
        "dataset": [dataset.id],
        "round": [Round.objects.get().id],
        "run": [run.id],
        "metarmcheckpoint": [checkpoint.id],
        "apitoken": [token.id],
    }


def written() -> tuple[object, ...]:
    return (
        list(Release.objects.values_list("id", flat=True)),
        list(Run.objects.values_list("id", "meta_status")),
        list(MetaRmCheckpoint.objects.values_list("id", "is_active")),
        list(ApiToken.objects.values_list("id", "revoked_at")),
    )


@pytest.mark.parametrize("model", ACTIONS)
def test_a_staff_reviewer_is_offered_no_action_and_posting_one_writes_nothing(
    staff_reviewer_client, one_of_each_selectable, sent_tasks, django_capture_on_commit_callbacks, model
):
    changelist = staff_reviewer_client.get(reverse(f"admin:reviews_{model}_changelist"))
    assert changelist.status_code == 200
    page = changelist.content.decode()
    for action in ACTIONS[model]:
        assert f'value="{action}"' not in page, action
    before = written()
    for action in ACTIONS[model]:
        with django_capture_on_commit_callbacks(execute=True):
            response = act(staff_reviewer_client, model, action, one_of_each_selectable[model])
        assert response.status_code == 200, action  # the changelist again, as for no action
    assert written() == before
    assert sent_tasks == []


@pytest.mark.parametrize("model", ACTIONS)
def test_an_admin_is_offered_every_action(admin_client, one_of_each_selectable, model):
    page = admin_client.get(reverse(f"admin:reviews_{model}_changelist")).content.decode()
    for action in ACTIONS[model]:
        assert f'value="{action}"' in page, action


@pytest.mark.parametrize(
    ("model", "action"), [(model, action) for model, actions in ACTIONS.items() for action in actions]
)
def test_each_action_writes_for_an_admin(
    admin_client, one_of_each_selectable, sent_tasks, django_capture_on_commit_callbacks, model, action
):
    before = written()
    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, model, action, one_of_each_selectable[model])
    assert 'class="error"' not in response.content.decode()
    assert written() != before
