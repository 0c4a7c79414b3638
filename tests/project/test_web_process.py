"""The web process never imports torch or transformers: it must start fast and never load a model."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # a Python process of its own

SCRIPT = """
import sys
import django
from django.conf import settings
django.setup()
from django.core.management import call_command
from django.test.utils import setup_test_environment
setup_test_environment()
call_command("migrate", verbosity=0)
import grmweb.urls, grmweb.wsgi, reviews.admin, workers.tasks  # noqa: F401
from django.contrib.auth.models import Group, User
from django.test import Client
from reviews.services.datasets import demo_load
demo_load()
user = User.objects.create_user("light", password="pw-light-123")
user.groups.add(Group.objects.get(name="reviewer"))  # without a role the home page shows no data
client = Client()
client.login(username="light", password="pw-light-123")
response = client.get("/")
assert response.status_code == 200, response.status_code
assert b"demo" in response.content
heavy = sorted(name for name in ("torch", "transformers", "vllm", "gguf", "numpy") if name in sys.modules)
print("HEAVY:", ",".join(heavy))
"""


def test_rendering_the_home_page_imports_no_ml_library(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(GRM_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="grmweb.settings")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "HEAVY: \n" in result.stdout, result.stdout
