"""Redis, the broker, restarted while a run is judged and an upload is ingested (issue 14).

Web, workers and beat all use a Redis server this test owns; it is stopped and started again while
batches are queued and generating. Kept: with an append-only file, as docker-compose runs it, the queued
messages survive. Lost: without persistence every queued message is gone, and beat's watchdog sends the
run's remaining batches and the upload again. Either way the run ends with exactly k samples per query,
and the upload ends with every item stored.
"""

from __future__ import annotations

import time

import pytest

from reviews.models import Query, Run, Sample, Upload
from reviews.services.configs import defaults_ensure, model_config_for
from reviews.services.datasets import demo_load
from tests.conftest import wait_for
from tests.faults.conftest import (
    assert_exactly_k_per_query,
    bearer,
    upload_body,
    wait_for_run,
    wait_for_upload,
)
from tests.openai_server import Script, openai_server

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

UPLOAD_ITEMS = 20_000


@pytest.mark.parametrize("kept", [True, False], ids=["kept", "lost"])
def test_a_redis_restart_mid_run_loses_and_doubles_nothing(
    kept, own_redis, web_processes, celery_workers, beat_process, admin_token, tmp_path
):
    broker = own_redis(kept=kept)
    uploads = tmp_path / "uploads"
    env = {
        "REDIS_URL": broker.url,
        "GRM_UPLOAD_DIR": str(uploads),
        "GRM_RUN_STALL_SECONDS": "8",
        "GRM_WATCHDOG_SECONDS": "2",
    }
    demo_load()
    defaults_ensure()
    with openai_server(Script(delay=0.4)) as url:
        judge = model_config_for(backend="openai", model="judge", base_url=url)
        web = web_processes(**env)
        celery_workers.start(**env)
        celery_workers.start(**env)
        beat_process(**env)

        status, run = web.request(
            "POST",
            "/api/v1/runs/",
            body=f'{{"dataset": "demo", "model_config": "{judge.name}", "k": 2, "batch_size": 1}}'.encode(),
            headers=bearer(admin_token),
        )
        assert status == 201, run
        status, upload = web.request(
            "POST",
            "/api/v1/uploads/?dataset=faults&format=native",
            body=upload_body(UPLOAD_ITEMS),
            headers=bearer(admin_token),
        )
        assert status == 202, upload

        # Mid-run: some samples stored, batches still queued, the upload queued or being ingested.
        wait_for(lambda: Sample.objects.filter(run_id=run["id"]).count() >= 6, timeout=180, what="first samples")
        assert Run.objects.get(id=run["id"]).is_active
        queued_before = broker.queued()
        assert queued_before > 0  # batches wait in the broker as it goes down
        broker.stop()
        time.sleep(3)  # workers and beat meet a broker that is away
        broker.start()
        if kept:
            assert broker.queued() > 0  # the append-only file kept what was queued
        else:
            assert broker.queued() == 0  # everything queued is gone: only the watchdog can bring it back

        done = wait_for_run(run["id"], timeout=400)
        ingested = wait_for_upload(upload["id"], timeout=300)

    assert_exactly_k_per_query(done)
    assert (ingested.status, ingested.items, ingested.created) == (Upload.Status.DONE, UPLOAD_ITEMS, UPLOAD_ITEMS)
    assert Query.objects.filter(dataset__name="faults").count() == UPLOAD_ITEMS
    assert not any(uploads.iterdir())  # no body or progress file left behind
