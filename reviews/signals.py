"""Signal receivers, connected in `ReviewsConfig.ready`.

Writes belong in services, but annotations also go in deletions that no service of ours performs: they
cascade from a reviewer's account when the admin deletes the user (and from the admin's annotation delete
pages). A signal is the one hook every such deletion passes through, and a sample's decision must not keep
the word of a reviewer whose annotation is gone.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from django.db import transaction

from reviews.models import Annotation
from reviews.services.decisions import decisions_apply

_pending = threading.local()  # per thread, as database connections are: database alias -> sample ids


def annotation_deleted(sender: type[Annotation], instance: Annotation, using: str, **kwargs: Any) -> None:
    """Recompute the deleted annotation's sample's decision once the deletion commits, batched: one
    cascade deletes many annotations, and a sample deleted with them is simply gone by then."""
    if instance.sample_id is None:
        return
    _pending_samples(using).add(instance.sample_id)
    # One callback per annotation, the first draining the batch: ids left by a rolled-back deletion are
    # recomputed with the next (harmless), where a single callback lost in a rollback would strand them.
    transaction.on_commit(partial(_decide_pending, using), using=using)


def _pending_samples(using: str) -> set[int]:
    by_alias: dict[str, set[int]] = _pending.__dict__.setdefault("by_alias", {})
    return by_alias.setdefault(using, set())


def _decide_pending(using: str) -> None:
    pending = _pending_samples(using)
    if pending:
        sample_ids = sorted(pending)
        pending.clear()
        decisions_apply(sample_ids=sample_ids)
