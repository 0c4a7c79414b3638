"""The GPU task's bridge: idempotent batches, scores mapped back, failures that leave the run going, retries.

The GRM here is an OpenAI-compatible server on loopback (tests/openai_server.py): the real backend
code talks to it over HTTP, as it would to `vllm serve`.
"""

import pytest

from reviews.models import ModelConfig, Run, RunEvent, Sample, Verdict
from reviews.selectors.runs import run_pending_batches, run_queries
from reviews.services.runs import run_batch_failed, run_cancel, run_claim, run_create
from tests.factories import start_run
from tests.openai_server import Script, openai_server
from workers.backends.base import PermanentBackendError
from workers.backends.openai_backend import OpenAIBackend
from workers.tasks import judge_batch

pytestmark = pytest.mark.django_db


def chat_ids(run):
    return list(run_queries(dataset=run.dataset, query_filter=run.query_filter).values_list("id", flat=True))


def test_a_batch_stores_k_samples_and_a_verdict_per_query_and_is_idempotent(demo):
    run = start_run(demo, query_filter={"subset": "reasoning"}, k=3)
    assert run_claim(run_id=run.id) is not None
    ids = chat_ids(run)
    script = Script()
    with openai_server(script) as url:
        backend = OpenAIBackend("judge", base_url=url)
        assert judge_batch(run_id=run.id, query_ids=ids[:4], load_backend=lambda: backend) == 4
        assert judge_batch(run_id=run.id, query_ids=ids[:4], load_backend=lambda: backend) == 0
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
    run = start_run(demo, query_filter={"subset": "code"}, k=4)
    run_claim(run_id=run.id)
    query_id = next(
        q.id for q in run_queries(dataset=run.dataset, query_filter=run.query_filter) if q.responses.count() == 2
    )
    with openai_server(Script()) as url:  # the server always scores "first shown 9, second shown 2"
        judge_batch(run_id=run.id, query_ids=[query_id], load_backend=lambda: OpenAIBackend("j", base_url=url))
    for sample in Sample.objects.filter(run=run):
        shown_first = sample.permutation[0]
        assert sample.scores is not None
        assert sample.scores[shown_first] == 9
        assert sample.scores[1 - shown_first] == 2
    verdict = Verdict.objects.get(run=run)
    counts = [sum(1 for s in Sample.objects.filter(run=run) if s.permutation[0] == i) for i in (0, 1)]
    assert verdict.vote_totals == [9 * counts[0] + 2 * counts[1], 9 * counts[1] + 2 * counts[0]]


def test_the_run_finishes_when_every_query_has_a_verdict(demo):
    run = start_run(demo, query_filter={"subset": "safety"}, k=2, batch_size=4)
    run_claim(run_id=run.id)
    with openai_server(Script()) as url:
        for batch in run_pending_batches(run=run):
            judge_batch(run_id=run.id, query_ids=batch, load_backend=lambda: OpenAIBackend("j", base_url=url))
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
    assert run.finished_at is not None
    assert run_pending_batches(run=run) == []
    # Verdicts that say whether the vote was right: what the run page's accuracy counts.
    assert Verdict.objects.filter(run=run, correct__isnull=False).exists()


def test_a_permanent_error_fails_that_batch_only_and_the_run_goes_on(demo):
    run = start_run(demo, query_filter={"subset": "chat"}, k=2, batch_size=5)
    run_claim(run_id=run.id)
    first, second = run_pending_batches(run=run)
    script = Script(replies=[(400, {}, {"error": {"message": "context length exceeded"}})])
    with openai_server(script) as url:
        backend = OpenAIBackend("j", base_url=url, concurrency=1)
        with pytest.raises(PermanentBackendError) as failure:
            judge_batch(run_id=run.id, query_ids=first, load_backend=lambda: backend)
        run_batch_failed(run_id=run.id, query_ids=first, message=str(failure.value))
        run_batch_failed(run_id=run.id, query_ids=first, message=str(failure.value))  # redelivered
        judge_batch(run_id=run.id, query_ids=second, load_backend=lambda: backend)
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
    assert sorted(run.failed_query_ids) == sorted(first)
    assert run.error_message.count("context length exceeded") == 1
    assert run.queries_done == 5


def test_a_cancelled_run_judges_nothing(demo):
    run = start_run(demo, query_filter={"subset": "chat"}, k=2, batch_size=5)
    run_claim(run_id=run.id)
    assert run_cancel(run=run)
    with openai_server(Script()) as url:
        assert (
            judge_batch(run_id=run.id, query_ids=chat_ids(run), load_backend=lambda: OpenAIBackend("j", base_url=url))
            == 0
        )
    assert Sample.objects.filter(run=run).count() == 0


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
        run = run_create(
            dataset=dataset,
            model_config=openai_model(url, concurrency=1),
            template=template,
            k=1,
            query_filter={"subset": "chat"},
            batch_size=10,
        )
        run_claim(run_id=run.id)
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
        run = run_create(
            dataset=dataset,
            model_config=openai_model(url, concurrency=1),
            template=template,
            k=1,
            query_filter={"subset": "chat"},
            batch_size=1,
        )
        run_claim(run_id=run.id)
        first, *rest = run_pending_batches(run=run)
        tasks.gpu_sample_batch.apply(args=(run.id, first))
        for batch in rest:
            tasks.gpu_sample_batch.apply(args=(run.id, batch))
    run.refresh_from_db()
    assert run.failed_query_ids == first
    assert "overloaded (gave up after 3 retries)" in run.error_message
    assert run.status == Run.Status.DONE
    assert run.queries_done == 9
    # The run's error log: each retry, then the failure, with its attempt and batch size.
    events = list(RunEvent.objects.filter(run=run).order_by("created_at", "id"))
    assert [(e.kind, e.attempt, e.queries) for e in events] == [
        ("batch_retried", 0, 1),
        ("batch_retried", 1, 1),
        ("batch_retried", 2, 1),
        ("batch_failed", 3, 1),
    ]
    assert "retry 1 of 3" in events[0].message
    assert "overloaded" in events[0].message
    assert "gave up after 3 retries" in events[-1].message
    assert all(event.task_id for event in events)


def test_a_lost_database_connection_retries_the_batch_and_stores_it_once(demo, monkeypatch):
    from django.db import OperationalError

    from workers import tasks

    monkeypatch.setattr(tasks.gpu_sample_batch, "default_retry_delay", 0)
    judged = tasks.judge_batch
    calls = []

    def judge_then_lose_the_connection(**kwargs):
        calls.append(kwargs["query_ids"])
        if len(calls) == 1:  # half the batch was stored, then the connection went (pg_terminate_backend)
            judged(**{**kwargs, "query_ids": kwargs["query_ids"][:5]})
            raise OperationalError("terminating connection due to administrator command\nSSL SYSCALL error")
        return judged(**kwargs)

    monkeypatch.setattr(tasks, "judge_batch", judge_then_lose_the_connection)
    run = start_run(demo, query_filter={"subset": "chat"}, k=2, batch_size=10)
    run_claim(run_id=run.id)
    with openai_server(Script()) as url:
        Run.objects.filter(id=run.id).update(model_config=openai_model(url))
        tasks.gpu_sample_batch.apply(args=(run.id, chat_ids(run)))
    run.refresh_from_db()
    assert len(calls) == 2  # tried again: the second delivery judged the half not stored yet
    assert (run.status, run.failed_query_ids, run.error_message) == (Run.Status.DONE, [], "")
    assert Sample.objects.filter(run=run).count() == 20
    (event,) = RunEvent.objects.filter(run=run)
    assert event.kind == "batch_retried"
    assert event.message.startswith(
        "the database connection was lost (terminating connection due to administrator command); tried again"
    )


def test_an_unexpected_error_fails_the_batch_with_its_message_instead_of_losing_it(demo, monkeypatch):
    from workers import tasks

    def explode(**kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(tasks, "judge_batch", explode)
    run = start_run(demo, query_filter={"subset": "chat"}, k=1, batch_size=10)
    run_claim(run_id=run.id)
    with openai_server(Script()) as url:
        Run.objects.filter(id=run.id).update(model_config=openai_model(url))
        tasks.gpu_sample_batch.apply(args=(run.id, chat_ids(run)))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "RuntimeError: CUDA out of memory" in run.error_message
    assert len(run.failed_query_ids) == 10


def test_a_model_that_cannot_load_fails_its_batches_with_the_reason(demo):
    from workers import tasks

    run = start_run(demo, query_filter={"subset": "chat"}, k=1, batch_size=10)
    run.model_config = ModelConfig.objects.create(name="broken", backend="transformers", model="/nonexistent/model")
    run.save()
    run_claim(run_id=run.id)
    tasks.gpu_sample_batch.apply(args=(run.id, chat_ids(run)))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "/nonexistent/model" in run.error_message


def test_a_failed_delivery_does_not_mark_queries_another_delivery_judged(demo):
    run = start_run(demo, query_filter={"subset": "chat"}, k=1, batch_size=10)
    run_claim(run_id=run.id)
    ids = chat_ids(run)
    with openai_server(Script()) as url:
        judge_batch(run_id=run.id, query_ids=ids[:5], load_backend=lambda: OpenAIBackend("j", base_url=url))
    run_batch_failed(run_id=run.id, query_ids=ids, message="late failure of a duplicate")
    run.refresh_from_db()
    assert sorted(run.failed_query_ids) == sorted(ids[5:])
    assert run.status == Run.Status.DONE
