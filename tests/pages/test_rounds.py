"""The rounds pages: the list and a round's page for either role, creating rounds and adding runs for admins,
the round a run page links to, the run form's round choice, and the Round admin."""

import pytest
from django.urls import reverse

from reviews.models import Round, Run
from reviews.services.rounds import round_create
from tests.factories import ModelConfigFactory, ReleaseFactory, RunFactory, make_run
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_releases(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"


def test_reviewers_read_the_rounds_pages_and_only_admins_write(reviewer_client, admin_client):
    current = round_create(name="first")
    run = RunFactory.create()
    list_page = reviewer_client.get(reverse("rounds")).content.decode()
    assert 'id="round-1"' in list_page
    assert 'id="round-form"' not in list_page
    detail = reviewer_client.get(reverse("round-detail", args=[1])).content.decode()
    assert "Round 1" in detail
    assert 'id="assign-runs-form"' not in detail
    assert reviewer_client.post(reverse("round-new"), {"name": "mine"}).status_code == 403
    denied = reviewer_client.post(reverse("round-assign-runs", args=[1]), {"runs": [run.pk]})
    assert denied.status_code == 403
    assert (Round.objects.count(), Run.objects.get().rft_round) == (1, None)
    assert 'id="round-form"' in admin_client.get(reverse("rounds")).content.decode()
    assert 'id="assign-runs-form"' in admin_client.get(reverse("round-detail", args=[current.number])).content.decode()
    assert 'href="/rounds/"' in reviewer_client.get(reverse("home")).content.decode()


def test_an_unknown_round_is_a_404(reviewer_client, admin_client):
    assert reviewer_client.get(reverse("round-detail", args=[3])).status_code == 404
    assert reviewer_client.get(f"/rounds/{2**70}/").status_code == 404
    assert admin_client.post(f"/rounds/{2**40}/runs/", {}).status_code == 404


def test_an_admin_creates_the_next_round_after_the_latest(admin_client, admin_user):
    empty = admin_client.get(reverse("rounds")).content.decode()
    assert 'id="no-rounds"' in empty
    model = ModelConfigFactory.create(name="grm-round-2")
    first = admin_client.post(reverse("round-new"), {"name": "seed", "notes": ""})
    assert first.status_code == 302
    assert first["Location"] == reverse("round-detail", args=[1])
    second = admin_client.post(reverse("round-new"), {"name": "", "model_config": model.pk, "notes": "from r1"})
    assert second["Location"] == reverse("round-detail", args=[2])
    created = Round.objects.get(number=2)
    assert (created.parent, created.model_config, created.notes, created.created_by) == (
        Round.objects.get(number=1),
        model,
        "from r1",
        admin_user,
    )
    branch = admin_client.post(reverse("round-new"), {"parent": 1})
    assert branch.status_code == 302
    assert Round.objects.get(number=3).parent == Round.objects.get(number=1)
    for bad in ("99", "x", str(2**70)):
        refused = admin_client.post(reverse("round-new"), {"parent": bad})
        assert refused.status_code == 200
        assert "Select a valid choice" in refused.content.decode()
    assert Round.objects.count() == 3


def test_a_rounds_page_shows_family_runs_accuracy_and_releases(reviewer_client, admin_client):
    parent = round_create()
    model = ModelConfigFactory.create(name="grm-r2-ckpt")
    current = round_create(name="second", model_config=model, notes="trained on <b>round 1</b>")
    child = round_create()
    _, run = make_run(queries=2, k=2)
    Run.objects.filter(pk=run.pk).update(rft_round=current, k_meta=1)
    release = ReleaseFactory.create(rft_round=current, counts={"rows": 7})
    page = reviewer_client.get(reverse("round-detail", args=[current.number])).content.decode()
    assert f'href="{reverse("round-detail", args=[parent.number])}"' in page
    assert f'href="{reverse("round-detail", args=[child.number])}"' in page
    assert "grm-r2-ckpt" in page
    assert "trained on &lt;b&gt;round 1&lt;/b&gt;" in page
    assert f'id="round-run-{run.pk}"' in page
    assert f'href="{reverse("run-detail", args=[run.pk])}"' in page
    assert "1.000 <span" in page  # Voting@k: both labelled queries right
    assert f'id="round-release-{release.pk}"' in page
    assert f'href="/releases/{release.pk}/"' not in page  # release pages are for admins
    admin_page = admin_client.get(reverse("round-detail", args=[current.number])).content.decode()
    assert f'href="/releases/{release.pk}/"' in admin_page
    assert "rows: 7" in page
    assert release.sha256[:12] in page


def test_a_round_with_nothing_yet_says_how_runs_join(reviewer_client):
    round_create()
    page = reviewer_client.get(reverse("round-detail", args=[1])).content.decode()
    assert 'id="no-round-runs"' in page
    assert "grm_run --round 1" in page
    assert 'id="no-round-releases"' in page


def test_the_round_page_costs_the_same_statements_however_many_runs(admin_client):
    current = round_create()
    RunFactory.create(rft_round=current)
    RunFactory.create()  # a run to offer in the assign form
    url = reverse("round-detail", args=[current.number])
    admin_client.get(url)
    with count_queries() as few:
        admin_client.get(url)
    for _ in range(5):
        _, run = make_run(queries=2, k=2)
        Run.objects.filter(pk=run.pk).update(rft_round=current)
        ReleaseFactory.create(rft_round=current)
        RunFactory.create()  # one more run to offer in the assign form
    with count_queries() as many:
        admin_client.get(url)
    assert_count_does_not_grow({"1 run": few, "6 runs": many})
    with count_queries() as listed_few:
        admin_client.get(reverse("rounds"))
    round_create()
    round_create()
    with count_queries() as listed_many:
        admin_client.get(reverse("rounds"))
    assert_count_does_not_grow({"1 round": listed_few, "3 rounds": listed_many})


def test_an_admin_adds_runs_that_are_in_no_round(admin_client):
    current = round_create()
    other = round_create()
    free = RunFactory.create()
    RunFactory.create()  # still free after `free` joins: the form stays on the page
    taken = RunFactory.create(rft_round=other)
    page = admin_client.get(reverse("round-detail", args=[current.number])).content.decode()
    assert f'<option value="{free.pk}">' in page
    assert f'<option value="{taken.pk}">' not in page
    added = admin_client.post(reverse("round-assign-runs", args=[current.number]), {"runs": [free.pk]})
    assert added.status_code == 302
    free.refresh_from_db()
    assert free.rft_round == current
    refused = admin_client.post(reverse("round-assign-runs", args=[current.number]), {"runs": [taken.pk]})
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    taken.refresh_from_db()
    assert taken.rft_round == other
    assert admin_client.post(reverse("round-assign-runs", args=[current.number]), {}).status_code == 200


def test_the_run_page_links_its_round_and_the_run_form_offers_rounds(demo, admin_client, sent_tasks):
    _, template, model = demo
    current = round_create(name="collect")
    form = admin_client.get(reverse("run-new", args=["demo"])).content.decode()
    assert 'name="rft_round"' in form
    assert "Round 1 (collect)" in form
    posted = admin_client.post(
        reverse("run-new", args=["demo"]),
        {
            "model_config": model.id,
            "template": template.id,
            "subset": "chat",
            "k": 1,
            "temperature": 0.5,
            "max_tokens": 32,
            "seed": 0,
            "batch_size": 4,
            "rft_round": current.number,
        },
    )
    assert posted.status_code == 302
    run = Run.objects.get()
    assert run.rft_round == current
    page = admin_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert f'<a href="{reverse("round-detail", args=[1])}" id="run-round">Round 1 (collect)</a>' in page
    assert (
        'id="run-round"' not in admin_client.get(reverse("run-detail", args=[RunFactory.create().pk])).content.decode()
    )


def test_the_round_admin_lists_counts_and_creates_through_the_service(admin_client, admin_user):
    first = round_create(name="seed")
    run = RunFactory.create(rft_round=first)
    listing = admin_client.get(reverse("admin:reviews_round_changelist")).content.decode()
    assert "seed" in listing
    assert 'class="field-run_count">1<' in listing
    change = admin_client.get(reverse("admin:reviews_round_change", args=[first.pk])).content.decode()
    assert 'id="runs-group"' in change
    assert reverse("admin:reviews_run_change", args=[run.pk]) in change
    added = admin_client.post(reverse("admin:reviews_round_add"), {"name": "next", "notes": "", **EMPTY_INLINE})
    assert added.status_code == 302, added.content.decode()[:2000]
    created = Round.objects.get(name="next")
    assert (created.number, created.parent, created.created_by) == (2, first, admin_user)
    edited = admin_client.post(
        reverse("admin:reviews_round_change", args=[created.pk]),
        {"name": "renamed", "notes": "n", **EMPTY_INLINE},
    )
    assert edited.status_code == 302, edited.content.decode()[:2000]
    created.refresh_from_db()
    assert (created.name, created.notes, created.number, created.parent) == ("renamed", "n", 2, first)


EMPTY_INLINE = {
    "runs-TOTAL_FORMS": "0",
    "runs-INITIAL_FORMS": "0",
    "runs-MIN_NUM_FORMS": "0",
    "runs-MAX_NUM_FORMS": "0",
}
