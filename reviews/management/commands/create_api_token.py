"""Create a personal API token for a user and print it (for scripts); only its hash is stored."""

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.services.accounts import api_token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it once. Revoke it in the admin (API tokens)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="What the token is for.")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        _, raw = api_token_create(user=user, name=name)
        self.stdout.write(raw)
