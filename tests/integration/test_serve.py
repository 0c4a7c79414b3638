"""`make run`'s server as a user runs it: debug off (the project's error pages, static files through whitenoise),
a quiet console whose last line says where to open the app and how to log in, the logged-in home page with the
demo data, and Ctrl-C leaves nothing behind."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_with_env(marker: str) -> list[int]:
    """Pids of live processes whose environment holds `marker` (our private data directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_serve_runs_web_and_workers_and_stops_them_all_on_ctrl_c(tmp_path):
    port = free_port()
    data_dir = tmp_path / "grm-serve-data"
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(GRM_DATA_DIR=str(data_dir), PORT=str(port), GRM_ADMIN_PASSWORD="serve-test-pass-1")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "manage.py", "grm_serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "Ready (" in log.read_text() or serve.poll() is not None, timeout=240, what="ready")
        assert serve.poll() is None, log.read_text()
        console = log.read_text().strip().splitlines()
        assert console[-1].startswith("Ready (debug off; GRM_DEBUG=1 for development)"), console
        assert f"open http://127.0.0.1:{port}/ and log in as 'admin' with GRM_ADMIN_PASSWORD" in console[-1]
        assert len(console) <= 12, console  # the workers' banners and the model's warnings are in their logs
        pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", log.read_text())]
        assert len(pids) == 4  # web, two workers, beat
        assert {path.name for path in (data_dir / "logs").iterdir()} == {
            "web.log",
            "worker-cpu.log",
            "worker-gpu.log",
            "beat.log",
        }

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        login_page = opener.open(f"{base}/login/").read().decode()
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page)
        assert found, login_page
        token = found.group(1)
        form = urllib.parse.urlencode(
            {"username": "admin", "password": "serve-test-pass-1", "csrfmiddlewaretoken": token}
        ).encode()
        home = opener.open(urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"}))  # noqa: S310
        assert home.status == 200
        assert home.url == f"{base}/"
        page = home.read().decode()
        assert 'href="/datasets/demo/"' in page
        stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]+\.css)"', page)  # hashed: collected, debug off
        assert stylesheet, page[:500]
        assert opener.open(base + stylesheet.group(1)).status == 200  # served by whitenoise
        with pytest.raises(urllib.error.HTTPError) as missing:
            opener.open(f"{base}/no/such/page/")
        assert missing.value.code == 404
        assert 'id="error-page"' in missing.value.read().decode()  # the project's page, not Django's debug page

        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert serve.wait(timeout=60) == 0, log.read_text()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
    assert "stopped web and workers" in log.read_text()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert processes_with_env(f"GRM_DATA_DIR={data_dir}") == []
