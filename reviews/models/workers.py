from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """A running Celery worker, as it last said it was alive (every GRM_WORKER_HEARTBEAT_SECONDS);
    `/healthz` lists them with their ages. A worker that stops cleanly removes its row."""

    name = models.CharField(max_length=200, unique=True, help_text="The worker's node name, e.g. gpu@host.")
    queues = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"worker {self.name} (seen {self.seen_at:%Y-%m-%d %H:%M:%S})"
