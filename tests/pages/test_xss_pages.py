"""Hostile text in every field a user or a model can fill, then every page and admin list walked (issue 14):
no page puts it out as markup. tests/browser/test_xss.py runs the full corpus in Chromium on the pages
that render Markdown; here the server's HTML is checked everywhere, escaped or sanitized."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from reviews.models import (
    Annotation,
    ApiToken,
    Dataset,
    ModelConfig,
    Query,
    Response,
    ReviewQueue,
    Run,
    RunEvent,
    Sample,
    Upload,
    UploadError,
)
from tests.pages.routes import ROUTES, url_of

pytestmark = pytest.mark.django_db

HOSTILE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"><a href="javascript:alert(3)">x</a>'
SHORT = "<script>window.__xss=1</script><img src=x onerror=alert(2)>"  # for fields of 100 characters
# What would reach the page only if a field were put out unescaped and unsanitized.
MARKERS = ("<script>window.__xss", "<img src=x onerror", '<a href="javascript:')


@pytest.fixture
def hostile(url_values: dict[str, Any]) -> dict[str, Any]:
    """The url_values rows with HOSTILE in every free-text field they show."""
    Dataset.objects.update(description=HOSTILE)
    Query.objects.update(
        context=[{"role": "user", "content": HOSTILE}], prompt=HOSTILE, subset=SHORT, external_id=SHORT
    )
    Response.objects.update(text=HOSTILE)
    Sample.objects.update(raw_text=HOSTILE, principles=HOSTILE, critique=HOSTILE)
    ModelConfig.objects.update(name=SHORT)
    ReviewQueue.objects.update(name=HOSTILE, description=HOSTILE, guidelines=HOSTILE)
    Annotation.objects.update(note=HOSTILE)
    ApiToken.objects.update(name=SHORT)
    Upload.objects.update(filename=HOSTILE, message=HOSTILE)  # its dataset name is checked before it exists
    UploadError.objects.update(field=HOSTILE, message=HOSTILE)
    Run.objects.update(error_message=HOSTILE)
    for run in Run.objects.all():  # the run page's error log
        RunEvent.objects.create(run=run, kind=RunEvent.Kind.BATCH_FAILED, message=HOSTILE, worker=SHORT, task_id=SHORT)
    return url_values


def assert_inert(html: str, where: str) -> None:
    for marker in MARKERS:
        assert marker not in html, f"{where}: {marker!r} reached the page"


PAGES = [route for route in ROUTES if route.name not in ("logout", "login")]


@pytest.mark.parametrize("route", PAGES, ids=[str(route.name) for route in PAGES])
def test_no_page_puts_out_hostile_text_as_markup(route, hostile, admin_user):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    url = url_of(route, hostile)
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    assert response.status_code < 500
    assert_inert(response.content.decode(), str(route.name))


def test_search_results_and_the_admin_lists_are_inert(hostile, admin_user):
    client = Client()
    client.force_login(admin_user)
    assert_inert(client.get(reverse("search") + "?q=window").content.decode(), "search")
    for model in admin.site._registry:
        meta = model._meta
        listing = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert listing.status_code == 200, meta.label
        assert_inert(listing.content.decode(), f"admin list of {meta.label}")
        first = model._default_manager.first()
        if first is not None:
            change = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk]))
            assert change.status_code in (200, 302), meta.label
            assert_inert(change.content.decode(), f"admin page of {meta.label} {first.pk}")
