"""The page routes (everything outside /api/ and Django's /admin/), enumerated from the URL resolver, and
how to fill their arguments: a page added later is covered by every test that walks them (or fails,
naming the argument `url_values` in tests/pages/conftest.py does not yet know how to fill)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse

# The API authenticates with bearer tokens and enforces CSRF itself for session callers (tests/api/);
# the admin is Django's own and sits behind the same middleware.
OTHER_STACKS = ("api/", "admin/")


def walk(patterns: list[Any]) -> Iterator[URLPattern]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            yield entry


def page_routes() -> list[URLPattern]:
    routes: list[URLPattern] = []
    for entry in get_resolver().url_patterns:
        if str(entry.pattern).startswith(OTHER_STACKS):  # admin/login/ too: a redirect to our page
            continue
        routes.extend([entry] if isinstance(entry, URLPattern) else walk(entry.url_patterns))
    return routes


ROUTES = page_routes()


def url_of(route: URLPattern, values: dict[str, Any]) -> str:
    names = list(route.pattern.converters)
    missing = sorted(set(names) - set(values))
    assert not missing, f"{route.name}: add a value for {missing} to the url_values fixture"
    assert route.name, f"{route.pattern} has no name"
    return reverse(route.name, kwargs={name: values[name] for name in names})
