"""The README's commands as a newcomer types them (issue 13): every `manage.py` command it shows exists and
takes the options it is shown with, and the quick ones run as written, from the checkout, on an empty
SQLite database (no sibling folders, no services)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

from tests.conftest import ROOT

README = ROOT / "README.md"
MANAGE = ".venv/bin/python manage.py "
# Quick enough to run here as written; the others need workers (`--wait`) or earlier runs.
QUICK = {"import_preferences"}


def readme_commands() -> list[list[str]]:
    """Each `manage.py` command of the README's sh blocks (continuation lines joined, comments dropped)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    commands = []
    for line in lines:
        line = line.split("  #", 1)[0].strip()
        if line.startswith(MANAGE):
            commands.append(shlex.split(line[len(MANAGE) :]))
    return commands


COMMANDS = readme_commands()


def test_the_readme_shows_manage_commands():
    assert {command[0] for command in COMMANDS} >= {"import_preferences", "grm_run", "metarm_train", "export_release"}


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(command)[:60] for command in COMMANDS])
def test_each_command_exists_and_takes_its_options(command: list[str]):
    name, *args = command
    assert name in get_commands(), f"the README shows manage.py {name}, which does not exist"
    parser = load_command_class(get_commands()[name], name).create_parser("manage.py", name)
    parser.parse_args(args)  # an unknown option or a bad value exits with argparse's message


@pytest.mark.integration  # processes of their own
@pytest.mark.parametrize("command", [c for c in COMMANDS if c[0] in QUICK], ids=lambda c: c[0])
def test_the_quick_commands_run_as_written_on_a_new_database(command: list[str], tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env["GRM_DATA_DIR"] = str(tmp_path / "var")
    python = [sys.executable, "manage.py"]
    subprocess.run([*python, "migrate", "--verbosity=0"], cwd=ROOT, env=env, check=True, timeout=300)
    done = subprocess.run([*python, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    again = subprocess.run([*python, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr  # importing again creates nothing, fails nothing
