"""Settings come from typed environment variables; malformed values and unsafe production setups fail loudly."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from grmweb.env import env_bool, env_int, env_list, env_url
from tests.conftest import ROOT


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("yes", True), ("On", True), ("0", False), ("false", False)])
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, value):
    monkeypatch.setenv("GRM_FLAG", raw)
    assert env_bool("GRM_FLAG", not value) is value


def test_env_readers_name_the_variable_on_malformed_values(monkeypatch):
    monkeypatch.setenv("GRM_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="GRM_FLAG='maybe' is not a boolean"):
        env_bool("GRM_FLAG", True)
    monkeypatch.setenv("GRM_COUNT", "ten")
    with pytest.raises(ImproperlyConfigured, match="GRM_COUNT='ten' is not an integer"):
        env_int("GRM_COUNT", 1)
    monkeypatch.setenv("GRM_COUNT", "0")
    with pytest.raises(ImproperlyConfigured, match="GRM_COUNT=0 must be at least 1"):
        env_int("GRM_COUNT", 1, minimum=1)
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL='mysql://x' must start with one of"):
        env_url("DATABASE_URL", ("postgres", "sqlite"))


def test_env_defaults_and_lists(monkeypatch):
    monkeypatch.delenv("GRM_UNSET", raising=False)
    assert env_int("GRM_UNSET", 5) == 5
    assert env_list("GRM_UNSET", ["a"]) == ["a"]
    monkeypatch.setenv("GRM_HOSTS", "a.example, b.example,,")
    assert env_list("GRM_HOSTS", []) == ["a.example", "b.example"]


def manage(*args, **env):
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("GRM_")}
    full_env.update(GRM_DATA_DIR=os.environ.get("GRM_DATA_DIR", str(ROOT / "var" / "test")), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "GRM_DEBUG": "0",
    "GRM_SECRET_KEY": "Zq8#vL2@pW9!xR4$tY7^mN3&bC6*hJ5%gF1(dS0)aQ+eW=rT-yU_iO[pA]lK;jH:gF",
    "GRM_ALLOWED_HOSTS": "grm.example.com",
}


@pytest.mark.slow
def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_production_settings_are_secure():
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.ALLOWED_HOSTS)"
    )
    result = manage("shell", "-c", code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "False True True True 31536000 ['grm.example.com']" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GRM_DEBUG": "0", "GRM_ALLOWED_HOSTS": "x"}, "GRM_SECRET_KEY must be set"),
        ({"GRM_DEBUG": "0", "GRM_SECRET_KEY": "s" * 50}, "GRM_ALLOWED_HOSTS must list"),
        ({"GRM_DEBUG": "perhaps"}, "GRM_DEBUG='perhaps' is not a boolean"),
        ({"GRM_MAX_RESPONSES": "many"}, "GRM_MAX_RESPONSES='many' is not an integer"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379' must start with one of"),
    ],
)
def test_bad_environment_stops_startup_naming_the_variable(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("redis", "engine"),
    [
        ("", "django.contrib.sessions.backends.db"),
        ("redis://127.0.0.1:6379/0", "django.contrib.sessions.backends.cached_db"),
    ],
)
def test_sessions_are_cached_only_in_a_cache_every_web_process_shares(redis, engine):
    """A per-process memory cache would keep a session logged out in one gunicorn worker alive in another."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(GRM_DATA_DIR=os.environ.get("GRM_DATA_DIR", str(ROOT / "var" / "test")))
    if redis:
        env["REDIS_URL"] = redis
    code = "from django.conf import settings as s; print(s.SESSION_ENGINE)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == engine
