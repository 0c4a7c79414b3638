"""Every page route (everything outside /api/ and Django's /admin/) refuses a POST without a CSRF token.

The routes are enumerated from the URL resolver, so a page added later is covered without editing this file
(or fails here, naming the URL argument this file does not yet know how to fill).
"""

from __future__ import annotations

import pytest
from django.test import Client

from reviews.models import Adjudication, Annotation, ApiToken, Release, ReviewQueue, Round, Run
from tests.pages.routes import OTHER_STACKS, ROUTES, url_of

pytestmark = pytest.mark.django_db

CSRF_FAILURE = b"CSRF verification failed"


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
