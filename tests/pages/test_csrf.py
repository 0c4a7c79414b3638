"""Every page route (everything outside /api/ and Django's /admin/) refuses a POST without a CSRF token.

The routes are enumerated from the URL resolver, so a page added later is covered without editing this file
(or fails here, naming the URL argument this file does not yet know how to fill).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from reviews.models import Adjudication, Annotation, ApiToken, QueueItem, Release, ReviewQueue, Round, Run
from reviews.services.accounts import api_token_create
from reviews.services.annotations import annotation_submit
from reviews.services.queues import QueueFilters, queue_create
from reviews.services.rounds import round_create
from tests.factories import (
    DatasetFactory,
    QueryFactory,
    ReleaseFactory,
    ResponseFactory,
    RunFactory,
    SampleFactory,
    VerdictFactory,
)

pytestmark = pytest.mark.django_db

# The API authenticates with bearer tokens and enforces CSRF itself for session callers (tests/api/);
# the admin is Django's own and sits behind the same middleware.
OTHER_STACKS = ("api/", "admin/")
CSRF_FAILURE = b"CSRF verification failed"


def walk(patterns: list[Any]) -> Iterator[URLPattern]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            yield entry


def page_routes() -> list[URLPattern]:
    routes: list[URLPattern] = []
    for entry in get_resolver().url_patterns:
        if str(entry.pattern) in OTHER_STACKS:
            continue
        routes.extend([entry] if isinstance(entry, URLPattern) else walk(entry.url_patterns))
    return routes


ROUTES = page_routes()


@pytest.fixture
def url_values(admin_user, settings, tmp_path) -> dict[str, Any]:
    """A real row for each URL argument a page route takes."""
    settings.GRM_RELEASE_DIR = tmp_path / "releases"  # the release's file
    dataset = DatasetFactory.create(name="csrf")
    query = QueryFactory.create(dataset=dataset)
    for position in range(2):
        ResponseFactory.create(query=query, position=position)
    run = RunFactory.create(dataset=dataset, k=1)
    sample = SampleFactory.create(run=run, query=query, sample_index=0)
    VerdictFactory.create(run=run, query=query)
    queue = queue_create(name="csrf", dataset=dataset, run=run, filters=QueueFilters(), priority="unreviewed")
    token, _ = api_token_create(user=admin_user, name="csrf")
    return {
        "number": round_create(name="csrf").number,
        "name": dataset.name,
        "query_id": query.pk,
        "sample_id": sample.pk,
        "run_id": run.pk,
        "token_id": token.pk,
        "queue_id": queue.pk,
        "item_id": QueueItem.objects.get(queue=queue).pk,
        "release_id": ReleaseFactory.create().pk,
        "annotation_id": annotation_submit(reviewer=admin_user, sample=sample, decision="accept").pk,
    }


def url_of(route: URLPattern, values: dict[str, Any]) -> str:
    names = list(route.pattern.converters)
    missing = sorted(set(names) - set(values))
    assert not missing, f"{route.name}: add a value for {missing} to the url_values fixture"
    assert route.name, f"{route.pattern} has no name"
    return reverse(route.name, kwargs={name: values[name] for name in names})


def written() -> tuple[object, ...]:
    """What a forged POST to one of the pages could change."""
    return (
        ReviewQueue.objects.count(),
        Run.objects.count(),
        sorted(Run.objects.values_list("status", flat=True)),
        ApiToken.objects.filter(revoked_at__isnull=True).count(),
        Annotation.objects.count(),
        Adjudication.objects.count(),
        Release.objects.count(),
        Round.objects.count(),
        sorted(Run.objects.values_list("rft_round", flat=True), key=str),
    )


def test_the_page_routes_are_found():
    names = {route.name for route in ROUTES}
    assert {"login", "logout", "run-new", "run-cancel", "tokens", "token-revoke", "queue-new"} <= names
    assert {"queue-annotate", "queue-skip"} <= names
    assert not any(str(route.pattern).startswith(OTHER_STACKS) for route in ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=[route.name or str(route.pattern) for route in ROUTES])
def test_a_post_without_a_csrf_token_is_refused(route, url_values, admin_user):
    assert not getattr(route.callback, "csrf_exempt", False), f"{route.name} is exempt from CSRF checks"
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    url = url_of(route, url_values)
    before = written()

    refused = client.post(url, {"name": "forged", "decision": "accept"})

    assert refused.status_code == 403, route.name
    assert CSRF_FAILURE in refused.content, route.name
    assert written() == before
    # The same admin with the token is not refused: the 403 above came from the CSRF check, not from a role.
    client.get("/")
    allowed = client.post(url, {}, headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    assert allowed.status_code != 403, (route.name, allowed.status_code)
