"""Personal API tokens: `Authorization: Bearer grm_...`. Only the token's sha256 is stored."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from reviews import audit
from reviews.models import ApiToken
from reviews.services.accounts import api_token_hash
from reviews.throttles import FailedTokenThrottle


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in (b"bearer", b"token"):
            return None
        throttle = FailedTokenThrottle()
        wait = throttle.refused(request)
        if wait is not None:
            raise exceptions.Throttled(wait, detail="Too many failed tokens from this address.")
        try:
            user, token = self._authenticate(header)
        except exceptions.AuthenticationFailed:
            throttle.failed(request)
            raise
        audit.act_as(user)
        return user, token

    def _authenticate(self, header: list[bytes]) -> tuple[Any, ApiToken]:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header: give exactly one token after Bearer.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token holds characters that are not ASCII.") from None
        token = ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(raw)).first()
        if token is None or not token.active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(id=token.id).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token scheme in the OpenAPI schema."""

    target_class = "reviews.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token: python manage.py create_api_token USERNAME",
        }
