"""An upload's progress while its worker ingests it: reported by the import, written to the upload's
progress file, read by the upload page; removed when the upload ends."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from reviews import upload_files
from reviews.models import Upload
from reviews.selectors.uploads import upload_progress
from reviews.services import datasets as dataset_services
from reviews.services.datasets import ImportProgress, ImportRefused, dataset_import
from reviews.services.uploads import body_path, upload_ingest

pytestmark = pytest.mark.django_db


def items(count: int, *, bad_at: int | None = None) -> bytes:
    lines = []
    for i in range(count):
        record = {"id": f"q{i}", "prompt": f"question {i}", "responses": ["a", "b"], "best": 0}
        if i == bad_at:
            record["best"] = 7
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path) -> Path:
    settings.GRM_UPLOAD_DIR = tmp_path / "uploads"
    settings.GRM_UPLOAD_DIR.mkdir()
    return settings.GRM_UPLOAD_DIR


def test_an_import_reports_its_progress_as_it_reads_and_once_written(monkeypatch):
    monkeypatch.setattr(dataset_services, "PROGRESS_EVERY_ITEMS", 100)
    body = items(1000, bad_at=450)
    seen: list[ImportProgress] = []
    report = dataset_import(
        dataset_name="big", stream=io.BytesIO(body), fmt="native", partial=True, progress=seen.append
    )
    assert [done.items for done in seen[:-1]] == list(range(100, 1001, 100))
    assert all(not done.written for done in seen[:-1])
    last = seen[-1]
    assert last.written
    assert last.items == 1000
    assert last.created == 999
    assert last.rejected == 1
    assert last.bytes_read == len(body)
    assert [done.bytes_read for done in seen] == sorted(done.bytes_read for done in seen)
    assert [done.rejected for done in seen] == sorted(done.rejected for done in seen)
    assert seen[4].rejected == 1  # line 451 is bad: counted as soon as it is read
    assert report.created == 999


def test_an_import_refused_whole_still_reported_its_progress():
    seen: list[ImportProgress] = []
    with pytest.raises(ImportRefused):
        dataset_import(
            dataset_name="refused", stream=io.BytesIO(items(3, bad_at=1)), fmt="native", progress=seen.append
        )
    assert seen[-1].written
    assert seen[-1].rejected == 1
    assert seen[-1].items == 3


def test_the_progress_file_is_what_the_page_reads_while_ingesting_and_is_removed_at_the_end(admin_user):
    upload = Upload.objects.create(dataset_name="demo2", format="native", size_bytes=1000, status="ingesting")
    assert upload_progress(upload).phase == "reading the file"  # nothing written yet
    write = upload_files.ProgressFile(upload.pk)
    write(ImportProgress(items=40, created=30, unchanged=8, rejected=2, bytes_read=250))
    shown = upload_progress(upload)
    assert (shown.items, shown.created, shown.unchanged, shown.rejected, shown.percent) == (40, 30, 8, 2, 25)
    assert shown.phase == "reading and storing"
    write(ImportProgress(items=41, created=31, unchanged=8, rejected=2, bytes_read=400))  # within the interval
    assert upload_progress(upload).items == 40
    write(ImportProgress(items=160, created=150, unchanged=8, rejected=2, bytes_read=1000, written=True), final=True)
    assert upload_progress(upload).phase == "storing and committing"
    assert upload_progress(upload).percent == 100

    body_path(upload).write_bytes(items(5, bad_at=2))
    Upload.objects.filter(pk=upload.pk).update(status="queued", partial=True, size_bytes=len(items(5, bad_at=2)))
    upload_ingest(upload.pk)
    upload.refresh_from_db()
    assert upload.status == "partial"
    assert not upload_files.progress_path(upload.pk).exists()
    ended = upload_progress(upload)
    assert (ended.items, ended.created, ended.rejected, ended.percent) == (5, 4, 1, 100)


def test_a_queued_upload_waits_for_a_worker_and_a_broken_progress_file_is_ignored():
    upload = Upload.objects.create(dataset_name="demo3", format="native", size_bytes=10)
    assert upload_progress(upload).phase == "waiting for a worker"
    Upload.objects.filter(pk=upload.pk).update(status="ingesting")
    upload.refresh_from_db()
    upload_files.progress_path(upload.pk).write_text("{not json")
    assert upload_progress(upload).items == 0


def test_a_progress_file_that_cannot_be_written_does_not_stop_the_ingestion(caplog):
    write = upload_files.ProgressFile(12345)
    write.path.with_suffix(".part").mkdir()  # where the file would be written: a folder, for root too
    write(ImportProgress(1, 1, 0, 0, 10), final=True)
    assert "upload progress not written" in caplog.text
    assert upload_files.read_progress(12345) is None
