"""PostgreSQL advisory locks, the one place that takes them. SQLite has a single writer, so there
they are no-ops that always succeed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection


def lock_for_transaction(key: str) -> None:
    """Wait for the lock named `key`; it is held until the current transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])


@contextlib.contextmanager
def try_lock(key: str) -> Iterator[bool]:
    """Take the session lock named `key` if it is free: yields whether it was taken (and releases it)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        (taken,) = cursor.fetchone()
    try:
        yield bool(taken)
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
