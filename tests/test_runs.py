"""Run services: creation, idempotent batches, failures that leave the run going, progress, cancel, resume.

The GRM here is an OpenAI-compatible server on loopback (tests/openai_server.py): the real backend
code talks to it over HTTP, as it would to `vllm serve`.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews import run_services, services
from reviews.models import ModelConfig, Run, Sample, Verdict
from tests.openai_server import Script, openai_server
from workers.backends.base import PermanentBackendError
from workers.backends.openai_backend import OpenAIBackend

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    services.demo_load()
    template, model = services.defaults_ensure()
    return services.Dataset.objects.get(name="demo"), template, model


def make_run(demo, **options):
    dataset, template, model = demo
    options.setdefault("k", 3)
    return run_services.run_create(dataset=dataset, model_config=model, template=template, **options)


def chat_ids(run):
    return list(
        run_services.run_queries(dataset=run.dataset, query_filter=run.query_filter).values_list("id", flat=True)
    )


def test_run_create_counts_queries_and_enqueues_on_commit(demo, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("workers.tasks.run_start.delay", lambda run_id: sent.append(run_id))
    with django_capture_on_commit_callbacks(execute=True):
        run = make_run(demo, query_filter={"subset": "chat"})
    assert run.queries_total == 10
    assert run.status == Run.Status.QUEUED
    assert sent == [run.id]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 0}, "k must be from 1 to 64"),
        ({"temperature": 3.0}, "temperature must be"),
        ({"max_tokens": 0}, "max_tokens must be"),
        ({"query_filter": {"subset": "nope"}}, "no queries"),
        ({"query_filter": {"label": 1}}, "query_filter accepts subset and ids"),
        ({"k": 4, "k_meta": 5}, "k_meta must be"),
    ],
)
def test_bad_run_parameters_are_refused_by_name(demo, options, message):
    with pytest.raises(run_services.RunInvalid, match=message):
        make_run(demo, **options)
    assert Run.objects.count() == 0


def test_a_batch_stores_k_samples_and_a_verdict_per_query_and_is_idempotent(demo):
    run = make_run(demo, query_filter={"subset": "reasoning"}, k=3)
    assert run_services.run_claim(run_id=run.id) is not None
    ids = chat_ids(run)
    script = Script()
    with openai_server(script) as url:
        backend = OpenAIBackend("judge", base_url=url)
        assert run_services.run_judge_batch(run_id=run.id, query_ids=ids[:4], backend=backend) == 4
        assert run_services.run_judge_batch(run_id=run.id, query_ids=ids[:4], backend=backend) == 0
    assert Sample.objects.filter(run=run).count() == 12
    assert Verdict.objects.filter(run=run).count() == 4
    run.refresh_from_db()
    assert (run.queries_done, run.samples_done, run.status) == (4, 12, Run.Status.RUNNING)
    for sample in Sample.objects.filter(run=run):
        assert sorted(sample.permutation) == list(range(len(sample.permutation)))
        assert sample.parse_status in (Sample.ParseStatus.OK, Sample.ParseStatus.WRONG_COUNT)
    # Samples that drew the same order share one request (n > 1).
    assert len(script.requests) < 12
    assert sum(request["n"] for request in script.requests) == 12


def test_scores_are_mapped_back_to_the_original_order(demo):
    run = make_run(demo, query_filter={"subset": "code"}, k=4)
    run_services.run_claim(run_id=run.id)
    query_id = next(
        q.id
        for q in run_services.run_queries(dataset=run.dataset, query_filter=run.query_filter)
        if q.responses.count() == 2
    )
    with openai_server(Script()) as url:  # the server always scores "first shown 9, second shown 2"
        run_services.run_judge_batch(run_id=run.id, query_ids=[query_id], backend=OpenAIBackend("j", base_url=url))
    for sample in Sample.objects.filter(run=run):
        shown_first = sample.permutation[0]
        assert sample.scores is not None
        assert sample.scores[shown_first] == 9
        assert sample.scores[1 - shown_first] == 2
    verdict = Verdict.objects.get(run=run)
    counts = [sum(1 for s in Sample.objects.filter(run=run) if s.permutation[0] == i) for i in (0, 1)]
    assert verdict.vote_totals == [9 * counts[0] + 2 * counts[1], 9 * counts[1] + 2 * counts[0]]


def test_the_run_finishes_when_every_query_has_a_verdict_and_shows_accuracy(demo, reviewer_client):
    run = make_run(demo, query_filter={"subset": "safety"}, k=2, batch_size=4)
    run_services.run_claim(run_id=run.id)
    with openai_server(Script()) as url:
        for batch in run_services.run_pending_batches(run=run):
            run_services.run_judge_batch(run_id=run.id, query_ids=batch, backend=OpenAIBackend("j", base_url=url))
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
    assert run.finished_at is not None
    assert run_services.run_pending_batches(run=run) == []
    page = reviewer_client.get(reverse("run-progress", args=[run.id])).content.decode()
    assert "hx-trigger" not in page
    assert "Voting@2 accuracy" in page
    assert 'id="subset-accuracy"' in page


def test_a_permanent_error_fails_that_batch_only_and_the_run_goes_on(demo):
    run = make_run(demo, query_filter={"subset": "chat"}, k=2, batch_size=5)
    run_services.run_claim(run_id=run.id)
    first, second = run_services.run_pending_batches(run=run)
    script = Script(replies=[(400, {}, {"error": {"message": "context length exceeded"}})])
    with openai_server(script) as url:
        backend = OpenAIBackend("j", base_url=url, concurrency=1)
        with pytest.raises(PermanentBackendError) as failure:
            run_services.run_judge_batch(run_id=run.id, query_ids=first, backend=backend)
        run_services.run_batch_failed(run_id=run.id, query_ids=first, message=str(failure.value))
        run_services.run_batch_failed(run_id=run.id, query_ids=first, message=str(failure.value))  # redelivered
        run_services.run_judge_batch(run_id=run.id, query_ids=second, backend=backend)
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
    assert sorted(run.failed_query_ids) == sorted(first)
    assert run.error_message.count("context length exceeded") == 1
    assert run.queries_done == 5


def test_cancel_stops_the_remaining_batches(demo, admin_client):
    run = make_run(demo, query_filter={"subset": "chat"}, k=2, batch_size=5)
    run_services.run_claim(run_id=run.id)
    assert admin_client.post(reverse("run-cancel", args=[run.id])).status_code == 302
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    with openai_server(Script()) as url:
        assert (
            run_services.run_judge_batch(
                run_id=run.id, query_ids=chat_ids(run), backend=OpenAIBackend("j", base_url=url)
            )
            == 0
        )
    assert not run_services.run_cancel(run=run)
    assert Sample.objects.filter(run=run).count() == 0


def test_only_admins_start_and_cancel_runs(demo, reviewer_client, admin_client):
    run = make_run(demo, query_filter={"subset": "chat"})
    assert reviewer_client.post(reverse("run-cancel", args=[run.id])).status_code == 403
    assert reviewer_client.get(reverse("run-new", args=["demo"])).status_code == 403
    assert reviewer_client.get(reverse("run-detail", args=[run.id])).status_code == 200
    assert admin_client.get(reverse("run-new", args=["demo"])).status_code == 200


def test_the_start_form_creates_a_run(demo, admin_client):
    _, template, model = demo
    response = admin_client.post(
        reverse("run-new", args=["demo"]),
        {
            "model_config": model.id,
            "template": template.id,
            "subset": "code",
            "k": 2,
            "temperature": 0.5,
            "max_tokens": 32,
            "seed": 1,
            "batch_size": 4,
        },
    )
    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("run-detail", args=[run.id])
    assert (run.k, run.queries_total, run.query_filter) == (2, 10, {"subset": "code"})
    bad = admin_client.post(
        reverse("run-new", args=["demo"]),
        {
            "model_config": model.id,
            "template": template.id,
            "k": 0,
            "temperature": 0.5,
            "max_tokens": 32,
            "seed": 1,
            "batch_size": 4,
        },
    )
    assert bad.status_code == 200
    assert b"Ensure this value is greater than or equal to 1" in bad.content


def test_a_running_runs_progress_fragment_polls(demo, reviewer_client):
    run = make_run(demo, query_filter={"subset": "chat"})
    page = reviewer_client.get(reverse("run-detail", args=[run.id])).content.decode()
    assert f'hx-get="{reverse("run-progress", args=[run.id])}"' in page
    assert 'hx-trigger="every 2s"' in page


def test_stalled_runs_are_resumed_once(demo, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("workers.tasks.run_start.delay", lambda run_id: sent.append(run_id))
    run = make_run(demo, query_filter={"subset": "chat"})
    run_services.run_claim(run_id=run.id)
    Run.objects.filter(id=run.id).update(updated_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert run_services.runs_resume_stalled(stalled_for=timedelta(minutes=5)) == [run.id]
        assert run_services.runs_resume_stalled(stalled_for=timedelta(minutes=5)) == []
    assert sent == [run.id]


def test_model_configs_for_the_cli_are_reused(db):
    first = run_services.model_config_for(backend="openai", model="org/judge-27b", base_url="http://x/v1")
    again = run_services.model_config_for(backend="openai", model="org/judge-27b", base_url="http://x/v1")
    other = run_services.model_config_for(backend="openai", model="org/judge-27b", base_url="http://y/v1")
    assert first == again
    assert first.name == "openai-judge-27b"
    assert other.name == "openai-judge-27b-2"
    assert ModelConfig.objects.count() == 2


def openai_model(url, **options):
    return ModelConfig.objects.create(
        name=f"fake-{len(options)}-{ModelConfig.objects.count()}",
        backend="openai",
        model="judge",
        base_url=url,
        generation_params={"max_retries": 0, "backoff": 0.01, **options},
    )


def test_the_task_retries_a_transient_error_and_then_succeeds(demo):
    from workers.tasks import gpu_sample_batch

    dataset, template, _ = demo
    script = Script(replies=[(503, {}, {"error": {"message": "warming up"}})])
    with openai_server(script) as url:
        run = run_services.run_create(
            dataset=dataset,
            model_config=openai_model(url, concurrency=1),
            template=template,
            k=1,
            query_filter={"subset": "chat"},
            batch_size=10,
        )
        run_services.run_claim(run_id=run.id)
        gpu_sample_batch.apply(args=(run.id, chat_ids(run)))
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
    assert run.failed_query_ids == []
    assert Sample.objects.filter(run=run).count() == 10


def test_the_task_gives_up_after_its_retries_and_fails_only_that_batch(demo, monkeypatch):
    from workers import tasks

    monkeypatch.setattr(tasks.gpu_sample_batch, "default_retry_delay", 0)
    dataset, template, _ = demo
    script = Script(replies=[(503, {}, {"error": {"message": "overloaded"}})] * (tasks.MAX_RETRIES + 1))
    with openai_server(script) as url:
        run = run_services.run_create(
            dataset=dataset,
            model_config=openai_model(url, concurrency=1),
            template=template,
            k=1,
            query_filter={"subset": "chat"},
            batch_size=1,
        )
        run_services.run_claim(run_id=run.id)
        first, *rest = run_services.run_pending_batches(run=run)
        tasks.gpu_sample_batch.apply(args=(run.id, first))
        for batch in rest:
            tasks.gpu_sample_batch.apply(args=(run.id, batch))
    run.refresh_from_db()
    assert run.failed_query_ids == first
    assert "overloaded (gave up after 3 retries)" in run.error_message
    assert run.status == Run.Status.DONE
    assert run.queries_done == 9


def test_an_unexpected_error_fails_the_batch_with_its_message_instead_of_losing_it(demo, monkeypatch):
    from workers import tasks

    def explode(**kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(run_services, "run_judge_batch", explode)
    run = make_run(demo, query_filter={"subset": "chat"}, k=1, batch_size=10)
    run_services.run_claim(run_id=run.id)
    with openai_server(Script()) as url:
        Run.objects.filter(id=run.id).update(model_config=openai_model(url))
        tasks.gpu_sample_batch.apply(args=(run.id, chat_ids(run)))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "RuntimeError: CUDA out of memory" in run.error_message
    assert len(run.failed_query_ids) == 10


def test_a_model_that_cannot_load_fails_its_batches_with_the_reason(demo):
    from workers import tasks

    run = make_run(demo, query_filter={"subset": "chat"}, k=1, batch_size=10)
    run.model_config = ModelConfig.objects.create(name="broken", backend="transformers", model="/nonexistent/model")
    run.save()
    run_services.run_claim(run_id=run.id)
    tasks.gpu_sample_batch.apply(args=(run.id, chat_ids(run)))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "/nonexistent/model" in run.error_message


def test_queries_imported_after_a_run_started_are_not_part_of_it(demo):
    run = make_run(demo, query_filter={"subset": "chat"}, k=1, batch_size=100)
    later = services.Query.objects.create(
        dataset=run.dataset,
        external_id="late",
        subset="chat",
        prompt="Q",
        context=[{"role": "user", "content": "Q"}],
        content_hash="x",
    )
    [batch] = run_services.run_pending_batches(run=run)
    assert later.id not in batch
    assert len(batch) == run.queries_total


def test_a_failed_delivery_does_not_mark_queries_another_delivery_judged(demo):
    run = make_run(demo, query_filter={"subset": "chat"}, k=1, batch_size=10)
    run_services.run_claim(run_id=run.id)
    ids = chat_ids(run)
    with openai_server(Script()) as url:
        run_services.run_judge_batch(run_id=run.id, query_ids=ids[:5], backend=OpenAIBackend("j", base_url=url))
    run_services.run_batch_failed(run_id=run.id, query_ids=ids, message="late failure of a duplicate")
    run.refresh_from_db()
    assert sorted(run.failed_query_ids) == sorted(ids[5:])
    assert run.status == Run.Status.DONE


def test_seeds_must_fit_the_database(demo):
    with pytest.raises(run_services.RunInvalid, match="seed"):
        make_run(demo, seed=2**64)
