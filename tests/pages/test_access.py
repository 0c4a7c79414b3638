"""Who may open each page: anonymous visitors, signed-in users without a role, reviewers and admins, over
every page route (issue 14). A route without an entry in ACCESS fails the first test: decide who may
open a new page when adding it. Pages refuse what the API refuses: a user without a role reads nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, reverse

from tests.factories import UserFactory
from tests.pages.routes import ROUTES, url_of

pytestmark = pytest.mark.django_db

LEVELS = ("anyone", "signed-in", "reviewer", "admin")
# Who may open each page route, at least. "signed-in": any account, with a role or not (nothing there
# reads the team's data: the home page then only says to ask for a role; one's own API tokens).
REVIEWER_PAGES = (
    "uploads", "upload-detail", "upload-status", "dataset-detail", "query-detail", "sample-raw", "runs",
    "run-detail", "run-progress", "run-row", "run-meta", "run-report-json", "run-report-csv", "run-compare",
    "metarm", "metarm-row", "rounds", "round-detail", "search", "queues", "queue-review", "queue-annotate",
    "queue-skip", "queue-undo", "my-annotations", "annotation-edit", "queue-agreement",
)  # fmt: skip
ADMIN_PAGES = (
    "upload-new", "upload-preview", "run-new", "run-estimate", "run-cancel", "run-meta-score",
    "run-report-recompute", "run-resample-hinted", "sample-adjudicate", "adjudication", "metarm-train",
    "metarm-register", "metarm-activate", "round-new", "round-assign-runs", "queue-new", "queue-guidelines",
    "releases", "release-detail", "release-row", "release-file",
)  # fmt: skip
ACCESS = {
    "login": "anyone",
    "logout": "anyone",
    "home": "signed-in",
    "tokens": "signed-in",
    "token-revoke": "signed-in",
    **dict.fromkeys(REVIEWER_PAGES, "reviewer"),
    **dict.fromkeys(ADMIN_PAGES, "admin"),
}
LOGIN = resolve_url("login")
USERS = ("anonymous", "no-role", "reviewer", "admin")
USER_LEVEL = {"anonymous": "anyone", "no-role": "signed-in", "reviewer": "reviewer", "admin": "admin"}


def test_every_page_route_says_who_may_open_it():
    names = {str(route.name) for route in ROUTES}
    assert sorted(names - set(ACCESS)) == [], "add these routes to ACCESS"
    assert sorted(set(ACCESS) - names) == [], "these routes are gone: remove them from ACCESS"
    assert set(ACCESS.values()) <= set(LEVELS)


def client_for(kind: str, admin_user: Any) -> Client:
    client = Client(raise_request_exception=False)
    if kind == "admin":
        client.force_login(admin_user)
    elif kind == "reviewer":
        client.force_login(UserFactory.create(username="rita", roles=["reviewer"]))
    elif kind == "no-role":
        client.force_login(UserFactory.create(username="nora"))
    return client


CASES = [(route, kind) for route in ROUTES for kind in USERS]


@pytest.mark.parametrize(("route", "kind"), CASES, ids=[f"{route.name}-{kind}" for route, kind in CASES])
def test_each_page_opens_for_those_allowed_and_refuses_the_others(
    route: URLPattern, kind: str, url_values: dict[str, Any], admin_user
):
    client = client_for(kind, admin_user)
    url = url_of(route, url_values)
    response = client.get(url)
    if response.status_code == 405:  # a page that only takes POST: ask it the way its form does
        response = client.post(url, {})
    assert response.status_code < 500, response.status_code
    needed = LEVELS.index(ACCESS[str(route.name)])
    has = LEVELS.index(USER_LEVEL[kind])
    if has >= needed:
        assert response.status_code != 403, f"{kind} refused"
        assert not response.get("Location", "").startswith(LOGIN + "?next="), f"{kind} sent to log in"
    elif kind == "anonymous":
        assert response.status_code == 302, response.status_code
        assert response["Location"].startswith(LOGIN + "?next=")
    else:
        assert response.status_code == 403, f"{kind} let in: {response.status_code}"


def test_a_user_without_a_role_reads_nothing_on_the_pages_as_in_the_api(url_values, admin_user):
    client = client_for("no-role", admin_user)
    home = client.get(reverse("home"))
    assert home.status_code == 200
    html = home.content.decode()
    assert 'id="no-role"' in html
    assert reverse("dataset-detail", args=[url_values["name"]]) not in html  # no dataset listed
    assert reverse("runs") not in html
    assert reverse("search") not in html
    for page, api in (
        (reverse("dataset-detail", args=[url_values["name"]]), "/api/v1/datasets/"),
        (reverse("run-detail", args=[url_values["run_id"]]), f"/api/v1/runs/{url_values['run_id']}/"),
        (reverse("search") + "?q=x", "/api/v1/queries/"),
    ):
        assert client.get(page).status_code == 403, page
        assert client.get(api).status_code == 403, api
