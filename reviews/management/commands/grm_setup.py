"""Prepare a database for use: migrations, default template and model, the admin account, demo data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from reviews.services.accounts import admin_ensure
from reviews.services.configs import defaults_ensure, presets_ensure
from reviews.services.datasets import demo_load
from reviews.services.metarm import metarm_presets_ensure


@dataclass(frozen=True)
class Prepared:
    """What `prepare` did: the demo's import, and the admin account's password when it was made now."""

    admin: str
    created: bool
    password: str | None  # generated just now: shown once
    demo_created: int | None = None
    demo_unchanged: int | None = None


def prepare(*, no_demo: bool = False) -> Prepared:
    """Migrate, create the built-ins and the admin account, load the demo (what `grm_setup` does)."""
    call_command("migrate", interactive=False, verbosity=0)
    defaults_ensure()
    presets_ensure()
    metarm_presets_ensure()
    report = None if no_demo else demo_load()
    account = admin_ensure(username=settings.GRM_ADMIN_USER, password=os.environ.get("GRM_ADMIN_PASSWORD") or None)
    return Prepared(
        admin=account.username,
        created=account.created,
        password=account.password or None,
        demo_created=report.created if report else None,
        demo_unchanged=report.unchanged if report else None,
    )


class Command(BaseCommand):
    help = (
        "Migrate, create the built-in templates, the default model, the DeepSeek-GRM presets and the admin "
        "account, and load the demo data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo dataset.")

    def handle(self, *args: Any, no_demo: bool, **options: Any) -> None:
        prepared = prepare(no_demo=no_demo)
        if prepared.demo_created is not None:
            self.stdout.write(
                f"Demo dataset: {prepared.demo_created} new queries, {prepared.demo_unchanged} already there."
            )
        if prepared.password:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin account {prepared.admin!r} with password: {prepared.password}\n"
                    "This password is shown only once. Change it with: python manage.py changepassword "
                    f"{prepared.admin}"
                )
            )
        elif prepared.created:
            self.stdout.write(f"Created admin account {prepared.admin!r} (password from GRM_ADMIN_PASSWORD).")
