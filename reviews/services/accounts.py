"""Writes for accounts: the admin account, users with roles, personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.utils import timezone

from reviews import audit
from reviews.models import ApiToken
from reviews.roles import ADMIN


@dataclass
class AdminAccount:
    username: str
    created: bool
    password: str | None  # set only when generated now: it is shown once and never stored in clear


def admin_ensure(*, username: str, password: str | None) -> AdminAccount:
    """Create the admin account if missing; a given password is (re)applied, else one is generated once."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    created = user is None
    shown: str | None = None
    if user is None:
        shown = password or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=shown)
        if password:
            shown = None
    elif password and not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=ADMIN))
    return AdminAccount(username=username, created=created, password=shown)


def user_create(*, username: str, password: str, roles: Iterable[str], is_staff: bool = False) -> Any:
    """A user holding the given roles (group names)."""
    user = get_user_model().objects.create_user(username=username, password=password, is_staff=is_staff)
    user.groups.set(Group.objects.filter(name__in=list(roles)))
    return user


API_TOKEN_PREFIX = "grm_"  # noqa: S105 (a label, not a secret)


def api_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the raw token is returned once and never stored."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:100], key_hash=api_token_hash(raw), prefix=raw[:12])
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    now = timezone.now()
    if ApiToken.objects.filter(id=token.id, revoked_at__isnull=True).update(revoked_at=now):
        audit.record_update(token, revoked_at=(None, now))
