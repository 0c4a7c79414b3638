"""With debug off (how `make run` and production serve), every page answers without a server error, and
the errors a visitor can meet (404, 403, 400, 500) are the project's own pages, not Django's."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern

from reviews.selectors import datasets as dataset_selectors
from tests.factories import UserFactory
from tests.pages.routes import ROUTES, url_of

pytestmark = pytest.mark.django_db

OUR_PAGE = 'id="error-page"'


@pytest.fixture(autouse=True)
def debug_off(settings) -> None:
    settings.DEBUG = False


@pytest.mark.parametrize("route", ROUTES, ids=[route.name or str(route.pattern) for route in ROUTES])
def test_every_page_answers_an_admin_without_a_server_error(route: URLPattern, url_values: dict[str, Any], admin_user):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.get(url_of(route, url_values))
    assert response.status_code < 500, (route.name, response.status_code)
    if response.status_code == 404:
        assert OUR_PAGE in response.content.decode(), route.name


def test_a_missing_page_is_the_project_s_404(client, admin_user):
    for path in ("/no/such/page/", "/datasets/no-such-dataset/", "/runs/987654/"):
        response = client.get(path)
        assert response.status_code in (302, 404), path  # pages behind the login send visitors there first
    client.force_login(admin_user)
    for path in ("/no/such/page/", "/datasets/no-such-dataset/", "/runs/987654/"):
        response = client.get(path)
        html = response.content.decode()
        assert response.status_code == 404, path
        assert OUR_PAGE in html, path
        assert "Nothing here" in html, path
        assert 'class="topbar"' in html  # the site's own layout and menu
    assert client.get("/api/v1/runs/987654/").json()["detail"]  # the API answers in JSON
    assert client.get("/api/v1/no-such-route/").json() == {"detail": "Not found."}


def test_a_refused_page_is_the_project_s_403(client):
    client.force_login(UserFactory.create())  # no role
    response = client.get("/queues/")
    assert response.status_code == 403
    assert OUR_PAGE in response.content.decode()
    assert "This page is for reviewers." in response.content.decode()


def test_a_server_error_is_the_project_s_500(monkeypatch, admin_user):
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(dataset_selectors, "datasets_overview", broken)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 500
    assert OUR_PAGE in html
    assert 'data-status="500"' in html
    assert "the database went away" not in html  # no traceback, no exception text for visitors
    assert "Traceback" not in html
