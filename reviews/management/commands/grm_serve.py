"""Run the whole app on one machine: setup, the web server and the Celery workers, stopped together.

As a user runs it (`make run`): debug off, so visitors get the project's own 404 and 500 pages, static
files collected and served by whitenoise, gunicorn as the web server, plain HTTP on the chosen host, a
secret key generated once into the data folder. `GRM_DEBUG=1` serves with Django's development server
and debug pages instead. The console stays quiet: each process writes to its own log under
`$GRM_DATA_DIR/logs/` (plain lines, not production's JSON, unless GRM_LOG_FORMAT says), and the last
line says where to open the app and how to log in.

Children run in their own sessions so this command alone decides how they stop: on Ctrl-C or
SIGTERM it asks each to stop (SIGTERM to its process group), waits, then kills what is left. If this
command dies without cleaning up, the kernel sends its children SIGTERM (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grmweb.env import env_bool
from reviews.management.commands.grm_setup import Prepared, prepare

STOP_GRACE_SECONDS = 15
# The same queues and pools as docker-compose's worker-cpu and worker-gpu (a test holds them equal).
WORKERS = {
    "worker-cpu": ["-Q", "cpu", "--pool=threads", "--concurrency=2", "-n", "cpu@%h"],
    "worker-gpu": ["-Q", "gpu", "--pool=solo", "-n", "gpu@%h"],
}
# The periodic tasks (the run watchdog) from one scheduler process of their own, as in docker-compose.
BEAT = ["-m", "celery", "-A", "grmweb", "beat", "--loglevel=INFO"]
GUNICORN_CONFIG = "grmweb/gunicorn.conf.py"
_PR_SET_PDEATHSIG = 1
LOG_TAIL_LINES = 20


def served_env(host: str) -> tuple[dict[str, str], bool]:
    """The children's environment, and whether they run in debug mode (only when GRM_DEBUG says so)."""
    env = dict(os.environ)
    # The logs under $GRM_DATA_DIR/logs/ are read by a person on this machine: plain lines unless asked.
    env.setdefault("GRM_LOG_FORMAT", "plain")
    if env_bool("GRM_DEBUG", False):
        return env, True
    env["GRM_DEBUG"] = "0"
    env.setdefault("GRM_HTTPS", "0")  # served over plain HTTP on this machine; a proxy in front sets it
    hosts = [host, "127.0.0.1", "localhost", "[::1]"]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - reached by the machine's own names
        hosts += [socket.gethostname(), socket.getfqdn()]
    env.setdefault("GRM_ALLOWED_HOSTS", ",".join(dict.fromkeys(hosts)))
    env.setdefault("GRM_SECRET_KEY", _secret_key(Path(settings.DATA_DIR) / "secret_key"))
    return env, False


def _secret_key(path: Path) -> str:
    """This machine's key, made once and kept (readable by its owner only) so sessions survive restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def login_hint(prepared: Prepared) -> str:
    if prepared.password:
        return f"log in as {prepared.admin!r} with the password {prepared.password} (shown this once)"
    if os.environ.get("GRM_ADMIN_PASSWORD"):
        return f"log in as {prepared.admin!r} with GRM_ADMIN_PASSWORD"
    return (
        f"log in as {prepared.admin!r} with the password printed by the first `make run` "
        f"(forgotten: python manage.py changepassword {prepared.admin})"
    )


def _die_with_parent() -> None:
    with contextlib.suppress(OSError):  # not Linux: the signal handlers still stop the children
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Command(BaseCommand):
    help = "Set up and run the web server plus a CPU and a GPU-queue Celery worker until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("GRM_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo dataset.")

    def handle(self, *args: Any, host: str, port: int, no_demo: bool, **options: Any) -> None:
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                raise CommandError(f"Port {port} on {host} is already in use: set PORT to another one.")
        self.stdout.write("Setting up: migrations, built-in templates and models, the admin account, demo data")
        logging.disable(logging.INFO)  # the importer's progress lines: the console says what matters
        try:
            prepared = prepare(no_demo=no_demo)
        finally:
            logging.disable(logging.NOTSET)
        if prepared.demo_created:
            self.stdout.write(f"Demo dataset: {prepared.demo_created} queries loaded.")
        env, debug = served_env(host)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        if not debug:
            self.stdout.write("Collecting static files")
            subprocess.run([*manage, "collectstatic", "--noinput", "--verbosity=0"], env=env, check=True)
        celery = [sys.executable, "-m", "celery", "-A", "grmweb", "worker", "--loglevel=INFO"]
        web = (
            [*manage, "runserver", "--noreload", f"{host}:{port}"]
            if debug
            else [
                sys.executable, "-m", "gunicorn", "-c", str(settings.BASE_DIR / GUNICORN_CONFIG), "grmweb.wsgi",
                "--bind", f"{host}:{port}",
            ]
        )  # fmt: skip
        commands = {
            "web": web,
            **{name: [*celery, *args] for name, args in WORKERS.items()},
            "beat": [sys.executable, *BEAT],
        }
        logs = Path(settings.DATA_DIR) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

        def request_stop(signum: int, frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            for name, command in commands.items():
                with (logs / f"{name}.log").open("ab") as log:
                    children[name] = subprocess.Popen(
                        command,
                        cwd=settings.BASE_DIR,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=_die_with_parent,
                    )
                self.stdout.write(f"started {name} (pid {children[name].pid}), log: {logs / f'{name}.log'}")
            self._wait_until_listening(host, port, children["web"], logs)
            mode = "debug mode (GRM_DEBUG=1)" if debug else "debug off; GRM_DEBUG=1 for development"
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nReady ({mode}): open http://{host}:{port}/ and {login_hint(prepared)}. Ctrl-C stops everything."
                )
            )
            while not self.stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with status {child.returncode}; stopping the rest")
                        self.stderr.write(_tail(logs / f"{name}.log"))
                        self.stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._stop(children)

    def _wait_until_listening(self, host: str, port: int, web: subprocess.Popen[bytes], logs: Path) -> bool:
        """True once the web server accepts connections; False if asked to stop first."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.stopping:
                return False
            if web.poll() is not None:
                raise CommandError(f"the web server exited with status {web.returncode}:\n{_tail(logs / 'web.log')}")
            with socket.socket() as probe:
                if probe.connect_ex((host, port)) == 0:
                    return True
            time.sleep(0.2)
        raise CommandError(f"the web server did not listen on {host}:{port} within 120 s")

    def _stop(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        for child in children.values():
            if child.poll() is None:
                _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {STOP_GRACE_SECONDS} s; killing it")
                _signal_group(child, signal.SIGKILL)  # the group is still led by the child: its pid is ours
                child.wait()
        self.stdout.write("stopped web and workers")


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def _tail(path: Path) -> str:
    """The last lines of a log, for the console when its process died."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(lines[-LOG_TAIL_LINES:])
