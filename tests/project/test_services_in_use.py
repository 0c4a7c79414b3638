"""The suite runs on the services it was given: no silent fall-back to SQLite or the filesystem broker."""

import os
from typing import Any, cast

import pytest
from django.conf import settings
from django.db import connection

from grmweb.celery import app

pytestmark = pytest.mark.django_db


def test_database_vendor_matches_the_environment():
    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected
    if os.environ.get("GRM_REQUIRE_SERVICES"):
        assert connection.vendor == "postgresql", "CI must run the suite on PostgreSQL"
    print(f"database vendor: {connection.vendor}")


def test_broker_and_cache_match_the_environment():
    # celery-types does not describe kombu.Connection.info(); it names the transport actually loaded.
    broker = cast(Any, app.connection_for_write()).info()["transport"]
    if os.environ.get("REDIS_URL"):
        assert broker == "redis"
        assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
        from django.core.cache import cache

        cache.set("grm-test-key", "value", 5)
        assert cache.get("grm-test-key") == "value"
    else:
        assert broker == "filesystem"
    if os.environ.get("GRM_REQUIRE_SERVICES"):
        assert broker == "redis", "CI must run the suite on Redis"
    print(f"celery broker: {broker}")
