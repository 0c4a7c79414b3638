"""The Content-Security-Policy header: every page may load scripts, styles, fonts and images from this
site only, connect only to it, and be framed by no one. No inline script or inline style is allowed, so
markup that slipped past the escaping and sanitizing could still not run; the pages' behaviour lives in
static/js (htmx's own indicator styles are turned off in base.html's htmx-config for the same reason).

A constant header from a small middleware: Django 5.2 has no CSP support of its own (Django 6.0's
ContentSecurityPolicyMiddleware needs Python 3.12; move to it then), and one fixed policy with no
nonces needs no library.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy(**extra: list[str]) -> str:
    """GRM_CSP as a header value, with `extra` sources added to their directives (style_src: style-src)."""
    directives = {name: list(sources) for name, sources in settings.GRM_CSP.items()}
    for name, sources in extra.items():
        directives.setdefault(name.replace("_", "-"), []).extend(sources)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def allow_inline_styles(view: Callable[..., Any]) -> Callable[..., Any]:
    """The site's policy plus inline styles (never inline scripts), for a third-party page that sets
    them: the API docs' Swagger UI."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        response[HEADER] = policy(style_src=["'unsafe-inline'"])
        return response

    return wrapped


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and HEADER not in response:
            response[HEADER] = self.policy
        return response
