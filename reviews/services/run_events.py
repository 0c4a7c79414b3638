"""A run's error log (`RunEvent`): what went wrong or was tried again while it ran, one row each time.

Recording never stands in the way of the work it describes: an entry that cannot be written (the
database is the thing that failed) goes to the process's log instead.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection, transaction

from reviews.models import RunEvent

logger = logging.getLogger(__name__)


def run_event_record(
    *, run_id: int, kind: str, message: str, queries: int = 0, attempt: int = 0, task_id: str = "", worker: str = ""
) -> RunEvent | None:
    """Add a line to the run's error log; None when the database would not take it."""
    try:
        with transaction.atomic():  # a savepoint inside a caller's transaction: a failure here is ours only
            return RunEvent.objects.create(
                run_id=run_id,
                kind=kind,
                message=message[:10_000],
                queries=queries,
                attempt=attempt,
                task_id=task_id[:64],
                worker=worker[:200],
            )
    except DatabaseError:
        logger.warning("run %s: error log entry not stored (%s: %s)", run_id, kind, message, exc_info=True)
        if not connection.in_atomic_block:
            connection.close()  # a broken connection is opened afresh by the next statement
        return None
