"""Failed sign-ins and failed API tokens, counted with DRF's rate throttles (the Django cache: Redis when
REDIS_URL is set, shared by every web process; else each process counts its own). Only failures count,
and once a caller has failed too often it is refused before the password or token is even checked, so a
right guess no longer tells it anything: a brute-force search stalls."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

_NO_VIEW: Any = None  # counted outside a DRF view: the sign-in page, the token authentication


class FailureThrottle(SimpleRateThrottle):
    """A rate of failures per caller. `refused` looks without counting; `failed` counts one failure."""

    def refused(self, request: Any) -> float | None:
        """Seconds to wait when this caller has failed `num_requests` times within the period; else None."""
        key = self.get_cache_key(request, _NO_VIEW)
        limit, duration = self.parse_rate(self.rate)
        if key is None or limit is None or duration is None:
            return None
        now = self.timer()
        history = [moment for moment in self.cache.get(key, []) if moment > now - duration]
        if len(history) < limit:
            return None
        return max(1.0, duration - (now - history[-1]))

    def failed(self, request: Any) -> None:
        self.allow_request(request, _NO_VIEW)  # records the moment while under the limit


class FailedLoginThrottle(FailureThrottle):
    """Failed sign-ins per account name and address (GRM_LOGIN_FAILURES): one person mistyping does not
    lock out an office behind one address, nor a guesser on one name from many."""

    scope = "login_failures"

    def get_cache_key(self, request: Any, view: Any) -> str:
        name = str(request.POST.get("username", "")).strip().lower()[:150]
        return self.cache_format % {"scope": self.scope, "ident": f"{self.get_ident(request)}:{name}"}


class FailedTokenThrottle(FailureThrottle):
    """Failed API tokens per address (GRM_TOKEN_FAILURES)."""

    scope = "token_failures"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
