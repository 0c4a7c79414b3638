"""Load the team-written demo dataset `demo` (idempotent)."""

from typing import Any

from django.core.management.base import BaseCommand

from reviews.services.datasets import demo_load


class Command(BaseCommand):
    help = "Load the demo dataset (40 queries: chat, reasoning, safety, code). Running it again changes nothing."

    def handle(self, *args: Any, **options: Any) -> None:
        report = demo_load()
        self.stdout.write(f"demo: {report.created} new queries, {report.unchanged} unchanged")
