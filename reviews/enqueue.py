"""The one way the domain starts work on the workers: Celery tasks sent by name once the current
transaction commits, so a worker never looks for a row that is not there yet.

Services never import `workers.tasks` (which imports them): the task names below are the contract.
Routing to the `cpu` and `gpu` queues is by name (settings.CELERY_TASK_ROUTES).
"""

from __future__ import annotations

from django.db import transaction

from grmweb.celery import app

RUN_START = "workers.tasks.run_start"
RUN_REPORT = "workers.tasks.run_report"
INGEST_UPLOAD = "workers.tasks.ingest_upload"
METARM_TRAIN = "workers.tasks.gpu_metarm_train"
METARM_SCORE = "workers.tasks.gpu_metarm_score"
RELEASE_BUILD = "workers.tasks.release_build"


def send(name: str, *args: object) -> None:
    """Send the task now (the watchdog's re-sends, which have nothing to wait for)."""
    app.send_task(name, args=args)


def on_commit(name: str, *args: object, robust: bool = False) -> None:
    """Send the task when the transaction commits. `robust`: a broker that is down is logged, not raised
    (the watchdog sends it again later)."""
    transaction.on_commit(lambda: send(name, *args), robust=robust)
