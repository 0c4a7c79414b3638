"""The watchdog's sweep of the upload folder: what a killed web process left goes, what waits stays."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest

from reviews.models import Upload
from reviews.services.uploads import uploads_sweep_orphans
from reviews.upload_files import body_path

pytestmark = pytest.mark.django_db


def aged(path, hours: float):
    path.write_bytes(b"{}\n")
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


def test_only_orphans_untouched_for_an_hour_are_removed(settings, tmp_path):
    settings.GRM_UPLOAD_DIR = tmp_path
    waiting = Upload.objects.create(dataset_name="d", format="native", size_bytes=3)
    ended = Upload.objects.create(dataset_name="d", format="native", size_bytes=3, status=Upload.Status.DONE)
    aged(body_path(waiting.pk), 5)  # queued for a worker: never touched, however old
    aged(body_path(ended.pk), 2)  # ended, yet its body stayed
    aged(body_path(99_999), 2)  # no such upload
    aged(tmp_path / "incoming-old.part", 2)  # a body whose web process died
    aged(tmp_path / "incoming-new.part", 0.1)  # a body still arriving
    aged(tmp_path / f"{waiting.pk}.progress.json", 2)  # not a body: the worker's

    removed = uploads_sweep_orphans()

    assert sorted(removed) == sorted([body_path(ended.pk).name, "99999.body", "incoming-old.part"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [body_path(waiting.pk).name, "incoming-new.part", f"{waiting.pk}.progress.json"]
    )
    assert uploads_sweep_orphans(older_than=timedelta(0)) == ["incoming-new.part"]


def test_a_missing_folder_is_nothing_to_sweep(settings, tmp_path):
    settings.GRM_UPLOAD_DIR = tmp_path / "absent"
    assert uploads_sweep_orphans() == []
