"""A run's progress moves within a batch and says what the worker is doing (issue 13): the batch is judged in
parts, each stored as it ends; the phase goes loading -> generating -> computing the report; the pages, the
API and the CLI show it counted in samples, with the rate and the time left, and one status everywhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews.models import Run, Sample
from reviews.selectors.runs import run_queries
from reviews.services.runs import run_claim, run_report_store
from tests.factories import make_run, start_run
from tests.openai_server import Script, openai_server
from workers.backends.openai_backend import OpenAIBackend
from workers.tasks import judge_batch, progress_parts

pytestmark = pytest.mark.django_db


def test_a_batch_is_cut_into_at_most_four_parts_of_nearly_equal_size():
    assert [len(part) for part in progress_parts(list(range(8)))] == [2, 2, 2, 2]
    assert [len(part) for part in progress_parts(list(range(3)))] == [1, 1, 1]
    assert [len(part) for part in progress_parts(list(range(10)))] == [3, 3, 3, 1]
    assert progress_parts([]) == []


class Watched(OpenAIBackend):
    """The real OpenAI backend, noting the run's phase and stored samples at each call."""

    def __init__(self, run_id: int, url: str) -> None:
        super().__init__("judge", base_url=url)
        self.run_id = run_id
        self.seen: list[tuple[str, int]] = []

    def generate(self, prompts: Any, **kwargs: Any) -> Any:
        run = Run.objects.get(pk=self.run_id)
        self.seen.append((run.phase, Sample.objects.filter(run_id=self.run_id).count()))
        return super().generate(prompts, **kwargs)


def test_a_batch_stores_each_part_as_it_ends_with_the_phase_of_the_work(demo):
    run = start_run(demo, query_filter={"subset": "chat"}, k=2)
    assert run_claim(run_id=run.id) is not None
    ids = list(run_queries(dataset=run.dataset, query_filter=run.query_filter).values_list("id", flat=True))[:3]
    phases: list[str] = []

    with openai_server(Script()) as url:
        backend = Watched(run.id, url)

        def load() -> Watched:
            phases.append(Run.objects.get(pk=run.id).phase)
            return backend

        assert judge_batch(run_id=run.id, query_ids=ids, load_backend=load) == 3
    assert phases == [Run.Phase.LOADING]
    # One backend call per query here (three parts), the samples of the earlier ones stored already.
    assert backend.seen == [(Run.Phase.GENERATING, 0), (Run.Phase.GENERATING, 2), (Run.Phase.GENERATING, 4)]


def test_the_phase_turns_to_the_report_when_sampling_ends_and_clears_with_it(demo, sent_tasks):
    run = start_run(demo, query_filter={"subset": "chat"}, k=1)
    run_claim(run_id=run.id)
    ids = list(run_queries(dataset=run.dataset, query_filter=run.query_filter).values_list("id", flat=True))
    with openai_server(Script()) as url:
        judge_batch(run_id=run.id, query_ids=ids, load_backend=lambda: OpenAIBackend("judge", base_url=url))
    run.refresh_from_db()
    assert (run.status, run.phase, run.activity) == (Run.Status.DONE, Run.Phase.AGGREGATING, "computing the report")
    run_report_store(run_id=run.id, report={"version": 2})
    run.refresh_from_db()
    assert (run.phase, run.activity) == ("", "Done")


def test_activity_rate_and_time_left():
    _, run = make_run(queries=1, k=1)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.QUEUED, queries_total=10, k=4, samples_done=0)
    run.refresh_from_db()
    assert (run.activity, run.samples_total, run.samples_percent, run.seconds_left) == (
        "waiting for a worker",
        40,
        0,
        None,
    )
    started = timezone.now() - timedelta(minutes=2)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING, phase=Run.Phase.GENERATING, started_at=started, samples_done=10
    )
    run.refresh_from_db()
    assert run.activity == "generating"
    assert run.samples_percent == 25
    assert run.samples_per_minute == pytest.approx(5, rel=0.01)
    assert run.seconds_left == pytest.approx(6 * 60, abs=3)  # 30 samples left at 5 a minute
    Run.objects.filter(pk=run.pk).update(failed_query_ids=[1, 2])  # failed queries count as finished
    run.refresh_from_db()
    assert run.samples_finished == 18


def test_the_progress_fragment_shows_the_phase_the_rate_the_time_left_and_the_header_s_status(reviewer_client):
    _, run = make_run(queries=1, k=1)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING, phase=Run.Phase.GENERATING, queries_total=10, k=4, samples_done=10,
        started_at=timezone.now() - timedelta(minutes=2),
    )  # fmt: skip
    page = reviewer_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert page.count('id="run-status-badge"') == 1
    fragment = reviewer_client.get(reverse("run-progress", args=[run.pk])).content.decode()
    assert '<progress id="run-progress-bar" max="40" value="10">' in fragment
    assert "generating · about 6 min left" in fragment
    assert "5.0 samples/min" in fragment
    assert '<span class="status running" id="run-status-badge" hx-swap-oob="true">Running</span>' in fragment
    answer = reviewer_client.get(reverse("api-run", args=[run.pk])).json()
    assert (answer["activity"], answer["samples_total"], answer["samples_percent"]) == ("generating", 40, 25)
