"""From a run to its work (issue 13): runs named by what they judged, the runs page with its filters and
the comparison of two ticked runs, the run page's links to its queries by verdict and subset, and a
queue started from a run or a dataset with that dataset's subsets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews.models import QueueItem, ReviewQueue, Run, Verdict
from reviews.services.rounds import round_create
from tests.factories import ModelConfigFactory, QueryFactory, make_run

pytestmark = pytest.mark.django_db


def test_a_run_is_named_by_its_dataset_its_model_and_k():
    dataset, run = make_run(queries=1, k=3)
    assert str(run) == f"Run {run.pk}: {dataset.name} · {run.model_config.name} · k=3"


def test_the_runs_page_lists_and_filters_every_run(reviewer_client):
    first, run_a = make_run(queries=1, k=1)
    _, run_b = make_run(queries=1, k=2)
    other_model = ModelConfigFactory.create(name="judge-27b")
    Run.objects.filter(pk=run_b.pk).update(model_config=other_model, status=Run.Status.FAILED)
    round_ = round_create(name="r1")
    Run.objects.filter(pk=run_a.pk).update(rft_round=round_)

    def listed(**params: object) -> list[int]:
        page = reviewer_client.get(reverse("runs"), params)
        assert page.status_code == 200
        return [run.pk for run in page.context["page"].object_list]

    assert listed() == [run_b.pk, run_a.pk]  # newest first
    assert listed(dataset=first.name) == [run_a.pk]
    assert listed(model="judge-27b") == [run_b.pk]
    assert listed(status="failed") == [run_b.pk]
    assert listed(round=round_.number) == [run_a.pk]
    assert reviewer_client.get(reverse("runs"), {"status": "nope"}).status_code == 400
    assert 'href="/runs/"' in reviewer_client.get(reverse("home")).content.decode()


def test_two_ticked_runs_open_the_comparison_and_other_counts_are_refused(reviewer_client):
    _, run_a = make_run(queries=1, k=1)
    _, run_b = make_run(queries=1, k=1)
    answer = reviewer_client.get(reverse("runs"), {"compare": [run_a.pk, run_b.pk]})
    assert answer.status_code == 302
    assert answer["Location"] == f"{reverse('run-compare')}?a={run_a.pk}&b={run_b.pk}"
    page = reviewer_client.get(reverse("runs"), {"compare": [run_a.pk]}, follow=True)
    assert "Tick two runs to compare (1 ticked)." in page.content.decode()


def test_the_run_page_links_to_its_queries_by_verdict_and_subset(admin_client, reviewer_client):
    dataset, run = make_run(queries=3, k=2)
    first, second, third = dataset.queries.order_by("id")
    Verdict.objects.filter(run=run, query=third).update(correct=False)
    Verdict.objects.filter(run=run, query=first).update(tie_broken=True)
    run.samples.filter(query=second, sample_index=0).update(parse_status="no_scores", scores=None)
    page = admin_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    search = reverse("search")
    assert f'href="{search}?run={run.pk}" id="run-queries-all">all judged (3)' in page
    assert f'href="{search}?run={run.pk}&amp;verdict=wrong" id="run-queries-wrong">voted wrong (1)' in page
    assert "voted right (2)" in page
    assert "a tie broken by the seed (1)" in page
    assert "with a sample whose scores could not be read (1)" in page
    assert f"<title>Run {run.pk}: {dataset.name} · {run.model_config.name} · k=2" in page
    review = f'href="{reverse("queue-new")}?source=run:{run.pk}" id="review-run-link"'
    assert review in page
    assert review not in reviewer_client.get(reverse("run-detail", args=[run.pk])).content.decode()  # admins'
    wrong = reviewer_client.get(search, {"run": run.pk, "verdict": "wrong"})
    assert [query.pk for query in wrong.context["page"].object_list] == [third.pk]


def create_queue(client, source: str, **fields: object):
    """POST the new-queue form with its defaults, changed by `fields`."""
    data = {"source": source, "name": "q", "subset": "", "priority": "unreviewed", "reviewers_per_item": 1,
            "reservation_minutes": 10, **fields}  # fmt: skip
    return client.post(reverse("queue-new"), data)


def test_a_queue_starts_from_a_run_with_its_dataset_s_subsets(admin_client):
    dataset, run = make_run(queries=2, k=1)
    QueryFactory.create(dataset=dataset, subset="maths")
    form = admin_client.get(reverse("queue-new"), {"source": f"run:{run.pk}"}).content.decode()
    assert f'<option value="run:{run.pk}" selected>Run {run.pk}: {dataset.name}' in form
    assert '<option value="maths">maths</option>' in form
    assert f'value="Run {run.pk}: {dataset.name}' in form  # the name, filled in
    refused = create_queue(admin_client, f"run:{run.pk}", subset="poetry")
    assert refused.status_code == 400
    assert "Select a valid choice. poetry is not one of the available choices." in refused.content.decode()
    made = create_queue(admin_client, f"run:{run.pk}")
    assert made.status_code == 302
    queue = ReviewQueue.objects.get()
    assert (queue.run, queue.dataset, queue.item_count) == (run, dataset, 2)


def test_a_queue_starts_from_a_dataset_without_the_run_only_choices(admin_client):
    dataset, _ = make_run(queries=2, k=1)
    fragment = admin_client.get(reverse("queue-new"), {"source": f"dataset:{dataset.name}"}, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert html.lstrip().startswith('<form method="post" class="form-grid" id="queue-form"')  # swapped in place
    assert 'name="correct"' not in html
    assert 'name="parse_status"' not in html
    assert 'value="meta_uncertain"' not in html
    made = create_queue(admin_client, f"dataset:{dataset.name}", name="labels")
    assert made.status_code == 302
    queue = ReviewQueue.objects.get()
    assert queue.run is None
    assert QueueItem.objects.filter(queue=queue, sample__isnull=True).count() == 2


def test_a_queue_needs_a_run_or_a_dataset_that_exists(admin_client):
    page = admin_client.get(reverse("queue-new")).content.decode()
    assert '<option value="" selected>choose a run or a dataset</option>' in page
    for source in ("", "run:987654", "dataset:nothing", "query:1"):
        refused = create_queue(admin_client, source)
        assert refused.status_code == 400
        assert not ReviewQueue.objects.exists()
