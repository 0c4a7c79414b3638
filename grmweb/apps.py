"""The project as an app: it creates the folders the configuration writes to when Django starts (the
web server, a worker, a management command, the tests), not when settings are merely imported (as
mypy's Django plugin and `check` tooling do)."""

from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class GrmwebConfig(AppConfig):
    name = "grmweb"
    verbose_name = "GRM workbench"

    def ready(self) -> None:
        for folder in settings.GRM_DATA_FOLDERS:
            Path(folder).mkdir(parents=True, exist_ok=True)
