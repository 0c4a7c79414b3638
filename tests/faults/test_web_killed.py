"""The web process killed while an upload's body is arriving (issue 14): nothing partial is stored, the
watchdog removes the half-written file, and the client sends the same body again with success."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reviews.models import Query, Upload
from reviews.services.uploads import uploads_sweep_orphans
from tests.conftest import wait_for
from tests.faults.conftest import bearer, upload_body, wait_for_upload

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ITEMS = 5_000


def test_the_web_process_killed_mid_upload_stores_nothing_and_the_client_can_send_again(
    web_processes, celery_workers, admin_token, tmp_path, settings
):
    uploads = settings.GRM_UPLOAD_DIR = tmp_path / "uploads"
    body = upload_body(ITEMS)
    web = web_processes(GRM_UPLOAD_DIR=str(uploads))
    path = "/api/v1/uploads/?dataset=killed&format=native"

    conn = web.connection()
    conn.putrequest("POST", path)
    for name, value in {**bearer(admin_token), "Content-Length": str(len(body))}.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(body[: len(body) // 2])
    # The server is writing the body to its upload folder when it dies.
    wait_for(lambda: any(uploads.glob("incoming-*.part")), timeout=30, what="the body to reach the upload folder")
    web.kill()
    conn.close()

    assert not Upload.objects.exists()
    assert not Query.objects.filter(dataset__name="killed").exists()
    left = sorted(p.name for p in uploads.iterdir())
    assert all(name.startswith("incoming-") for name in left), left  # a half-written body, never an upload's
    # beat's watchdog removes such files once untouched for an hour; here at once.
    assert sorted(uploads_sweep_orphans(older_than=timedelta(0))) == left
    assert not any(uploads.iterdir())

    # The client sends the same body again, to a web process started again.
    celery_workers.start(GRM_UPLOAD_DIR=str(uploads))
    web = web_processes(GRM_UPLOAD_DIR=str(uploads))
    status, answer = web.request("POST", path, body=body, headers=bearer(admin_token))
    assert status == 202, answer
    done = wait_for_upload(answer["id"], timeout=180)
    assert (done.status, done.items, done.created, done.error_count) == (Upload.Status.DONE, ITEMS, ITEMS, 0)
    assert Query.objects.filter(dataset__name="killed").count() == ITEMS
    assert Upload.objects.count() == 1
