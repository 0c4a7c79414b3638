"""Celery tasks: thin entry points that load ids, call a service and record the outcome."""

from __future__ import annotations

import os
import socket

from celery import shared_task
from django.db import connection

from reviews.models import Dataset


@shared_task(name="workers.tasks.ping")
def ping() -> dict[str, object]:
    """Prove a worker is alive and sees the same database as the web process."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "db_vendor": connection.vendor,
        "datasets": Dataset.objects.count(),
    }
