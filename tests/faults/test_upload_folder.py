"""An upload folder that cannot take the body (issue 14): a clear error naming the cause and saying
nothing was stored (507 when full, 503 when it cannot be written), never a 500; nothing half-written is
left, and the same request succeeds once the folder is fixed."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from reviews.models import Query, Upload
from tests.faults.conftest import bearer, upload_body, wait_for_upload

API = "/api/v1/uploads/?dataset=folder&format=native"


@pytest.fixture
def folder_under_a_file(settings, tmp_path):
    """GRM_UPLOAD_DIR below a plain file: no process can create or write it, root included (ENOTDIR)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings.GRM_UPLOAD_DIR = blocker / "uploads"
    return settings.GRM_UPLOAD_DIR


@pytest.mark.django_db
def test_an_unwritable_upload_folder_answers_503_through_the_api(folder_under_a_file, admin_token):
    client = Client()
    raw = client.post(API, data=upload_body(10), content_type="application/json", headers=auth(admin_token))
    assert raw.status_code == 503
    message = raw.json()["detail"]
    assert message.startswith("the server could not write the upload to its upload folder (Not a directory)")
    assert "nothing was stored" in message
    assert "not-a-folder" not in message  # the server's paths go to its log, not to the client

    multipart = client.post(
        API, data={"file": io.BytesIO(upload_body(10))}, headers=auth(admin_token)
    )  # Django's test client encodes it as multipart
    assert multipart.status_code == 503
    assert "nothing was stored" in multipart.json()["detail"]
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_an_unwritable_upload_folder_is_said_on_the_upload_page(folder_under_a_file, admin_client):
    file = io.BytesIO(upload_body(10))
    file.name = "items.jsonl"
    form = {"target": "new", "name": "folder", "format": "native", "file": file, "partial": "on"}
    answer = admin_client.post("/uploads/new/", data=form, headers={"HX-Request": "true"})
    assert answer.status_code == 503
    text = answer.content.decode()
    assert "Nothing was uploaded" in text
    assert "could not write the upload to its upload folder (Not a directory)" in text
    assert not Upload.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_full_disk_answers_507_and_the_same_body_goes_through_once_there_is_room(
    web_processes, celery_workers, admin_token, tmp_path
):
    uploads = tmp_path / "uploads"
    body = upload_body(20_000)  # about 1.7 MB
    assert len(body) > 1_000_000
    # The web process may write no file past 256 KB: the disk "fills" while the body is written.
    full = web_processes(GRM_UPLOAD_DIR=str(uploads), limit_file_bytes=256 * 1024)
    status, answer = full.request("POST", API, body=body, headers=bearer(admin_token))
    assert status == 507, answer
    assert answer["detail"].startswith("the server has no room left to store the upload (File too large)")
    assert "nothing was stored" in answer["detail"]
    assert not Upload.objects.exists()
    assert not any(uploads.iterdir())  # the part written was removed
    status, _ = full.request("GET", "/healthz")
    assert status == 200  # the process lives on
    full.stop()

    celery_workers.start(GRM_UPLOAD_DIR=str(uploads))
    roomy = web_processes(GRM_UPLOAD_DIR=str(uploads))
    status, answer = roomy.request("POST", API, body=body, headers=bearer(admin_token))
    assert status == 202, answer
    done = wait_for_upload(answer["id"], timeout=180)
    assert (done.status, done.created) == (Upload.Status.DONE, 20_000)
    assert Query.objects.filter(dataset__name="folder").count() == 20_000


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
