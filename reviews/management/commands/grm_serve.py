"""Run the whole app on one machine: setup, the web server and the Celery workers, stopped together.

Children run in their own sessions so this command alone decides how they stop: on Ctrl-C or
SIGTERM it asks each to stop (SIGTERM to its process group), waits, then kills what is left. If this
command dies without cleaning up, the kernel sends its children SIGTERM (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

STOP_GRACE_SECONDS = 15
# The same queues and pools as docker-compose's worker-cpu and worker-gpu (a test holds them equal).
WORKERS = {
    "worker-cpu": ["-Q", "cpu", "--pool=threads", "--concurrency=2", "-n", "cpu@%h", "--beat"],
    "worker-gpu": ["-Q", "gpu", "--pool=solo", "-n", "gpu@%h"],
}
_PR_SET_PDEATHSIG = 1


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
        call_command("grm_setup", no_demo=no_demo, stdout=self.stdout, stderr=self.stderr)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        celery = [sys.executable, "-m", "celery", "-A", "grmweb", "worker", "--loglevel=INFO"]
        commands = {
            "web": [*manage, "runserver", "--noreload", f"{host}:{port}"],
            **{name: [*celery, *args] for name, args in WORKERS.items()},
        }
        children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

        def request_stop(signum: int, frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            for name, command in commands.items():
                children[name] = subprocess.Popen(
                    command, cwd=settings.BASE_DIR, start_new_session=True, preexec_fn=_die_with_parent
                )
                self.stdout.write(f"started {name} (pid {children[name].pid})")
            self._wait_until_listening(host, port, children["web"])
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nReady: open http://{host}:{port}/ and log in as {settings.GRM_ADMIN_USER!r} "
                    "(password: as printed on first setup, or GRM_ADMIN_PASSWORD). Ctrl-C stops everything.\n"
                )
            )
            while not self.stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with status {child.returncode}; stopping the rest")
                        self.stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._stop(children)

    def _wait_until_listening(self, host: str, port: int, web: subprocess.Popen[bytes]) -> bool:
        """True once the web server accepts connections; False if asked to stop first."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.stopping:
                return False
            if web.poll() is not None:
                raise CommandError(f"the web server exited with status {web.returncode}")
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
