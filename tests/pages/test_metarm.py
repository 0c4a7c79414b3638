"""The meta RM checkpoints page: the list with its metrics and polling rows, and the admins' train,
register and activate forms."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews.enqueue import METARM_TRAIN
from reviews.models import MetaRmCheckpoint, Run
from reviews.services.metarm import checkpoint_register
from tests.factories import RunFactory, make_run
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


def trained(name: str, **fields) -> MetaRmCheckpoint:
    values = {
        "status": MetaRmCheckpoint.Status.READY,
        "profile": MetaRmCheckpoint.Profile.CPU,
        "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "location": f"/data/metarm/{name}",
        "progress": 1.0,
        "metrics": {"roc_auc": 0.8123, "accuracy": 0.7456, "ece": 0.0421, "labels": {"reviewer": 3, "rule": 40}},
        "content_hash": "ab" * 32,
        "training_examples": 43,
        **fields,
    }
    return MetaRmCheckpoint.objects.create(name=name, **values)


def finished_judged_run() -> Run:
    """make_run's run (12 labelled judgments, 11 correct), ended: enough to train on."""
    _, run = make_run(queries=3, k=4)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE)
    run.refresh_from_db()
    return run


def test_the_list_shows_each_checkpoints_metrics_and_runs(reviewer_client):
    runs = [RunFactory.create(), RunFactory.create()]
    checkpoint = trained("metarm-one", is_active=True)
    checkpoint.trained_on_runs.set(runs)
    page = reviewer_client.get(reverse("metarm")).content.decode()
    row = page[page.index('id="checkpoint-metarm-one"') :]
    assert '<td class="num">0.812</td>' in row
    assert '<td class="num">0.746</td>' in row
    assert '<td class="num">0.042</td>' in row
    assert "43" in row
    assert "3 by reviewers" in row
    assert 'id="active-checkpoint"' in row
    assert f'<code title="{"ab" * 32}">{"ab" * 6}</code>' in row
    for run in runs:
        assert f'href="{reverse("run-detail", args=[run.pk])}"' in row
    assert "hx-trigger" not in row.split("</tr>")[0]
    # Reviewers see the list, not the forms, and may not post them.
    assert 'id="train-form"' not in page
    assert 'id="register-form"' not in page
    assert "Activate</button>" not in page
    assert reviewer_client.post(reverse("metarm-register"), {"name": "x", "location": "/y"}).status_code == 403
    assert reviewer_client.post(reverse("metarm-train"), {"runs": [runs[0].pk]}).status_code == 403
    assert reviewer_client.post(reverse("metarm-activate", args=["metarm-one"])).status_code == 403


def test_a_training_checkpoints_row_polls_until_training_ends(reviewer_client):
    checkpoint = trained("metarm-training", status=MetaRmCheckpoint.Status.TRAINING, progress=0.42, phase="epoch 2")
    page = reviewer_client.get(reverse("metarm")).content.decode()
    row_url = reverse("metarm-row", args=["metarm-training"])
    assert f'hx-get="{row_url}" hx-trigger="every 2s"' in page
    assert '<progress max="100" value="42"></progress> 42%' in page
    assert "epoch 2" in page
    MetaRmCheckpoint.objects.filter(pk=checkpoint.pk).update(status=MetaRmCheckpoint.Status.READY, progress=1.0)
    row = reviewer_client.get(row_url).content.decode()
    assert row.startswith('<tr id="checkpoint-metarm-training"')
    assert "hx-trigger" not in row
    assert "<progress" not in row


def test_a_failed_checkpoint_shows_its_error_escaped(reviewer_client):
    trained("metarm-failed", status=MetaRmCheckpoint.Status.FAILED, error_message="<img src=x onerror=alert(1)>")
    page = reviewer_client.get(reverse("metarm")).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page


def test_the_list_runs_as_many_queries_for_one_checkpoint_as_for_many(admin_client):
    def add(count: int) -> None:
        for _ in range(count):
            checkpoint = trained(f"metarm-{MetaRmCheckpoint.objects.count()}")
            checkpoint.trained_on_runs.set([RunFactory.create(status=Run.Status.DONE) for _ in range(2)])

    add(1)
    with count_queries() as few:
        assert admin_client.get(reverse("metarm")).status_code == 200
    add(8)
    with count_queries() as many:
        page = admin_client.get(reverse("metarm")).content.decode()
    assert page.count('<tr id="checkpoint-') == 9
    assert_count_does_not_grow({"1 checkpoint": few, "9 checkpoints": many})


def test_admins_train_a_checkpoint_on_finished_runs(admin_client, sent_tasks, django_capture_on_commit_callbacks):
    run = finished_judged_run()
    page = admin_client.get(reverse("metarm")).content.decode()
    assert 'id="train-form"' in page
    assert f'<option value="{run.pk}">#{run.pk} · {run.dataset.name}' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("metarm-train"), {"runs": [run.pk], "profile": "cpu", "name": "my-metarm", "base_model": ""}
        )
    assert response.status_code == 302
    checkpoint = MetaRmCheckpoint.objects.get(name="my-metarm")
    assert (checkpoint.status, checkpoint.profile) == (MetaRmCheckpoint.Status.QUEUED, "cpu")
    assert list(checkpoint.trained_on_runs.all()) == [run]
    assert sent_tasks.ids(METARM_TRAIN) == [checkpoint.pk]


def test_training_refusals_are_shown_with_the_input_kept(admin_client, sent_tasks):
    run = finished_judged_run()
    empty = admin_client.post(reverse("metarm-train"), {"profile": "cpu"})
    assert empty.status_code == 200
    assert "This field is required." in empty.content.decode()
    run.samples.update(correct=True)  # only correct judgments: nothing to learn from
    page = admin_client.post(reverse("metarm-train"), {"runs": [run.pk], "profile": "gpu", "name": "kept"}).content
    assert "training needs at least 8 and both kinds" in page.decode()
    assert 'value="kept"' in page.decode()
    bad = admin_client.post(reverse("metarm-train"), {"runs": ["99999999999999999999"], "profile": "cpu"})
    assert bad.status_code == 200
    assert sent_tasks == []
    assert not MetaRmCheckpoint.objects.exists()


def test_admins_register_and_activate_a_checkpoint(admin_client):
    response = admin_client.post(
        reverse("metarm-register"), {"name": "deepseek-metarm", "location": "BBQGOD/DeepSeek-GRM-27B-MetaRM"}
    )
    assert response.status_code == 302
    checkpoint = MetaRmCheckpoint.objects.get(name="deepseek-metarm")
    assert (checkpoint.source, checkpoint.status) == (MetaRmCheckpoint.Source.EXTERNAL, MetaRmCheckpoint.Status.READY)
    again = admin_client.post(reverse("metarm-register"), {"name": "deepseek-metarm", "location": "/elsewhere"})
    assert "exists already" in again.content.decode()
    page = admin_client.get(reverse("metarm")).content.decode()
    assert f'action="{reverse("metarm-activate", args=["deepseek-metarm"])}"' in page
    assert admin_client.post(reverse("metarm-activate", args=["deepseek-metarm"])).status_code == 302
    checkpoint.refresh_from_db()
    assert checkpoint.is_active


def test_a_checkpoint_not_ready_cannot_be_activated(admin_client):
    trained("metarm-queued", status=MetaRmCheckpoint.Status.QUEUED)
    response = admin_client.post(reverse("metarm-activate", args=["metarm-queued"]), follow=True)
    assert "metarm-queued is queued, not ready" in response.content.decode()
    assert not MetaRmCheckpoint.objects.filter(is_active=True).exists()
    assert admin_client.post(reverse("metarm-activate", args=["no-such"])).status_code == 404


def test_the_nav_links_the_page_for_admins(admin_client, reviewer_client):
    checkpoint_register(name="x", location="/y")
    assert f'href="{reverse("metarm")}">Meta RM</a>' in admin_client.get(reverse("home")).content.decode()
    assert f'href="{reverse("metarm")}">Meta RM</a>' not in reviewer_client.get(reverse("home")).content.decode()


def test_the_run_page_warns_when_the_meta_rm_was_trained_on_the_runs_queries(reviewer_client):
    _, trained_on = make_run(queries=2, k=2)
    _, run = make_run(queries=1, k=2)
    checkpoint = MetaRmCheckpoint.objects.create(name="seen", status="ready", location="/s")
    checkpoint.trained_on_runs.set([trained_on])
    Run.objects.filter(pk=run.pk).update(meta_checkpoint=checkpoint, meta_status="done", queries_done=1)
    page = reviewer_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert 'id="meta-seen-in-training"' not in page  # other queries: an honest figure
    checkpoint.trained_on_runs.add(run)
    page = reviewer_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "1 of the run's 1 queries were judged in the runs this meta RM was trained on" in page


def test_with_no_finished_run_the_train_form_says_what_to_do_first(admin_client):
    page = admin_client.get(reverse("metarm")).content.decode()
    assert 'id="no-finished-runs"' in page
    assert 'id="train-form"' not in page
    _, run = make_run(queries=1, k=2)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE)
    page = admin_client.get(reverse("metarm")).content.decode()
    assert 'id="no-finished-runs"' not in page
    assert 'id="train-form"' in page
