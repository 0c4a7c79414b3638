"""Prepare a database for use: migrations, default template and model, the admin account, demo data."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from reviews.services.accounts import admin_ensure
from reviews.services.configs import defaults_ensure, presets_ensure
from reviews.services.datasets import demo_load
from reviews.services.metarm import metarm_presets_ensure


class Command(BaseCommand):
    help = (
        "Migrate, create the built-in templates, the default model, the DeepSeek-GRM presets and the admin "
        "account, and load the demo data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo dataset.")

    def handle(self, *args: Any, no_demo: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        defaults_ensure()
        presets_ensure()
        metarm_presets_ensure()
        if not no_demo:
            report = demo_load()
            self.stdout.write(f"Demo dataset: {report.created} new queries, {report.unchanged} already there.")
        account = admin_ensure(username=settings.GRM_ADMIN_USER, password=os.environ.get("GRM_ADMIN_PASSWORD") or None)
        if account.password:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin account {account.username!r} with password: {account.password}\n"
                    "This password is shown only once. Change it with: python manage.py changepassword "
                    f"{account.username}"
                )
            )
        elif account.created:
            self.stdout.write(f"Created admin account {account.username!r} (password from GRM_ADMIN_PASSWORD).")
