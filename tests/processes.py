"""Environment for child processes (Celery workers) that must share this process's database.

Kept free of pytest so the benchmarks, which also run on machines without test dependencies, use it.
"""

from __future__ import annotations

import os
import sys

from django.db import connection


def celery_worker(*options: str) -> list[str]:
    """The command line of a Celery worker of this project, with the given options."""
    return [sys.executable, "-m", "celery", "-A", "grmweb", "worker", *options]


def process_env(**extra: str) -> dict[str, str]:
    """This environment, with DATABASE_URL pointing at the database this process uses now."""
    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or ''}{':' + db['PASSWORD'] if db['PASSWORD'] else ''}@"
            f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env.update(extra)
    return env
