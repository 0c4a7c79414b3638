"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so read them: they must start
the same commands that `make run` and the tests use, with health checks and restart policies."""

import json
import re

import pytest
import yaml
from django.core.management import get_commands

from reviews.management.commands.grm_serve import BEAT, GUNICORN_CONFIG, WORKERS
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def as_text(command) -> str:
    return command if isinstance(command, str) else " ".join(command)


def test_compose_has_the_full_stack_with_health_checks_and_restart_policies(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker-cpu", "beat", "worker-gpu", "flower"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name
    assert {"postgres-data", "redis-data", "grm-data"} <= set(compose["volumes"])


def test_app_services_use_postgres_and_redis_and_wait_for_them(compose):
    for name in ("web", "worker-cpu", "beat", "worker-gpu"):
        service = compose["services"][name]
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379")
        assert service["environment"]["GRM_DEBUG"] == "0"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_web_runs_setup_then_gunicorn_on_the_wsgi_app(compose):
    command = as_text(compose["services"]["web"]["command"])
    assert "python manage.py grm_setup" in command
    assert f"gunicorn -c {GUNICORN_CONFIG} grmweb.wsgi" in command  # the configuration make run uses
    assert (ROOT / GUNICORN_CONFIG).exists()
    assert "grm_setup" in get_commands()
    assert (ROOT / "grmweb" / "wsgi.py").exists()
    assert "/healthz" in as_text(compose["services"]["web"]["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["worker-cpu", "worker-gpu"])
def test_workers_consume_the_same_queues_with_the_same_pools_as_make_run(compose, name):
    command = compose["services"][name]["command"]
    assert command[:4] == ["celery", "-A", "grmweb", "worker"]

    def option(args, flag):
        for i, arg in enumerate(args):
            if arg == flag:
                return args[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
        return None

    for flag in ("-Q", "--pool", "-n"):
        assert option(command, flag) == option(WORKERS[name], flag), flag
    assert "--beat" not in command  # the scheduler is a service of its own
    assert "--beat" not in WORKERS[name]


def test_the_scheduler_is_one_service_of_its_own_as_in_make_run(compose):
    service = compose["services"]["beat"]
    assert service["command"] == BEAT[1:]
    assert service["deploy"]["replicas"] == 1


def test_gpu_worker_reserves_an_nvidia_gpu_and_uses_the_vllm_image(compose):
    service = compose["services"]["worker-gpu"]
    assert service["build"]["target"] == "gpu"
    assert service["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert "vllm==" in (ROOT / "requirements" / "gpu.txt").read_text()


def test_dockerfile_builds_both_targets_from_files_that_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert set(re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.M)) == {"base", "cpu", "gpu"}
    for path in re.findall(r"-r (requirements/\S+)", dockerfile) + re.findall(r"-c (requirements/\S+)", dockerfile):
        assert (ROOT / path).exists(), path


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_gunicorn_logs_each_request_with_its_request_id_in_the_chosen_format(monkeypatch, log_format):
    import logging.config
    import runpy

    monkeypatch.setenv("GRM_LOG_FORMAT", log_format)
    config = runpy.run_path(str(ROOT / GUNICORN_CONFIG))
    assert "%({x-request-id}o)s" in config["access_log_format"]  # the id the app's own lines carry
    if log_format == "plain":
        assert "logconfig_dict" not in config  # gunicorn's own lines
        return
    configurator = logging.config.DictConfigurator(config["logconfig_dict"])
    formatter = configurator.configure_formatter(config["logconfig_dict"]["formatters"]["json"])
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, '1.2.3.4 "GET / HTTP/1.1" 200', None, None)
    line = json.loads(formatter.format(record))
    assert (line["logger"], line["level"], line["message"]) == (
        "gunicorn.access",
        "INFO",
        '1.2.3.4 "GET / HTTP/1.1" 200',
    )
    assert "time" in line
