"""Reads for accounts: a user's own API tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from reviews.models import ApiToken


def api_tokens_of(*, user: Any) -> QuerySet[ApiToken]:
    """A user's own API tokens, newest first (revoked ones too: they stay listed as revoked)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
