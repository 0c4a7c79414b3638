"""A real Celery worker process runs tasks sent from this process, on the configured broker and database."""

import os

import pytest

from tests.factories import DatasetFactory
from workers.tasks import ping

pytestmark = pytest.mark.integration


def test_tasks_run_in_a_separate_worker_process_on_the_same_database(celery_worker_process):
    DatasetFactory.create_batch(3)
    result = ping.delay().get(timeout=90)
    assert result["pid"] != os.getpid()
    assert result["pid"] == celery_worker_process.pid
    assert result["datasets"] == 3
    from django.db import connection

    assert result["db_vendor"] == connection.vendor


def test_gpu_queue_tasks_reach_the_worker(celery_worker_process):
    result = ping.apply_async(queue="gpu").get(timeout=90)
    assert result["pid"] == celery_worker_process.pid
