"""Importing the settings writes nothing; Django's start creates the folders the configuration names."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # a Python process of its own

SCRIPT = """
import os, sys
import grmweb.settings as settings
print("AFTER_IMPORT", os.path.exists(sys.argv[1]))
import django
django.setup()
print("AFTER_SETUP", all(os.path.isdir(folder) for folder in settings.GRM_DATA_FOLDERS), os.path.isdir(sys.argv[1]))
"""


def test_settings_import_creates_no_folder_and_django_setup_creates_them(tmp_path):
    data = tmp_path / "data"
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(GRM_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="grmweb.settings")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "AFTER_IMPORT False" in result.stdout
    assert "AFTER_SETUP True True" in result.stdout
    assert (data / "celery" / "broker").is_dir()  # the embedded broker's folders, without Redis
