"""A backend error on one batch (issue 14): the model server refuses one request; that batch fails with
the server's message, every other batch finishes, and the run page's error log shows what happened."""

from __future__ import annotations

import pytest
from django.test import Client

from reviews.models import Dataset, Run, RunEvent, Sample, Verdict
from reviews.services.configs import defaults_ensure, model_config_for
from reviews.services.datasets import demo_load
from reviews.services.runs import run_create
from tests.faults.conftest import wait_for_run
from tests.openai_server import Script, openai_server

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REFUSAL = "This model's maximum context length is 2048 tokens <script>alert(1)</script>"


def test_a_backend_error_fails_its_batch_with_the_message_while_the_others_finish(celery_workers, admin_user):
    demo_load()
    template, _ = defaults_ensure()
    # The third request is refused for good (400); every other one is judged.
    script = Script(replies=[(200, {}, {"text": Script().judgment})] * 2 + [(400, {}, {"error": {"message": REFUSAL}})])
    with openai_server(script) as url:
        judge = model_config_for(backend="openai", model="judge", base_url=url)
        celery_workers.start()
        run = run_create(
            dataset=Dataset.objects.get(name="demo"),
            model_config=judge,
            template=template,
            k=2,
            batch_size=2,
            query_filter={"subset": "chat"},
        )
        done = wait_for_run(run.id, timeout=300)

    assert done.status == Run.Status.DONE  # the run goes on past a failed batch
    assert len(done.failed_query_ids) in (1, 2)  # the refused part; a part stored before it stays judged
    assert REFUSAL in done.error_message
    judged = set(Verdict.objects.filter(run=run).values_list("query_id", flat=True))
    assert not judged & set(done.failed_query_ids)
    assert len(judged) + len(done.failed_query_ids) == done.queries_total == 10
    assert Sample.objects.filter(run=run).count() == 2 * len(judged)
    (event,) = RunEvent.objects.filter(run=run)
    assert (event.kind, event.queries, event.attempt) == (RunEvent.Kind.BATCH_FAILED, 2, 0)
    assert REFUSAL in event.message
    assert event.task_id
    assert event.worker.startswith("test-")

    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/runs/{run.id}/").content.decode()
    assert 'id="run-error-log"' in page
    assert "batch failed" in page
    assert "maximum context length is 2048 tokens &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
