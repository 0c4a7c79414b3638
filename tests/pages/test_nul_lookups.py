"""A NUL character in a name or code the forms look rows up by is a form error, never a query: PostgreSQL
refuses a NUL in a query (a DataError, so a 500), where SQLite would just find nothing. Django's model
choice fields refuse it before any query (as the pinned 5.2 does); these tests keep it so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DataError, connection
from django.urls import reverse

from reviews.forms import AnnotateForm, QueueForm, ReleaseForm, SearchForm
from reviews.models import Release
from tests.release_data import judged_dataset

pytestmark = pytest.mark.django_db

NUL = "main\x00"


@pytest.fixture
def nul_refused() -> Iterator[None]:
    """The database refuses a NUL in a query's parameters, as PostgreSQL does, whichever runs the tests."""

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if any(isinstance(param, str) and "\x00" in param for param in params or ()):
            raise DataError("A string literal cannot contain NUL (0x00) characters.")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


@pytest.mark.parametrize(("field", "value"), [("dataset", [NUL]), ("dataset", ["main", NUL]), ("failure_mode", NUL)])
def test_the_release_form_refuses_a_nul_beside_the_field(admin_client, nul_refused, field, value):
    judged_dataset("main")
    data = {"kind": "rft_sft", "seed": "0", "validation_fraction": "0.1", field: value}
    response = admin_client.post(reverse("releases"), data)
    assert response.status_code == 400
    page = response.content.decode()
    error = page[page.index(f'id="error-{field}"') :].split("</div>")[0]
    assert "Null characters" in error, error
    assert not Release.objects.exists()


@pytest.mark.parametrize(
    ("form_class", "data", "field"),
    [
        (ReleaseForm, {"kind": "rft_sft", "seed": "0", "validation_fraction": "0", "dataset": [NUL]}, "dataset"),
        (
            ReleaseForm,
            {"kind": "rft_sft", "seed": "0", "validation_fraction": "0", "failure_mode": NUL},
            "failure_mode",
        ),
        (QueueForm, {"name": "q", "source": "dataset:" + NUL}, "source"),
        (SearchForm, {"dataset": NUL}, "dataset"),
        (SearchForm, {"failure_mode": NUL}, "failure_mode"),
        (AnnotateForm, {"decision": "accept", "failure_modes": [NUL]}, "failure_modes"),
    ],
)
def test_every_lookup_by_name_refuses_a_nul(nul_refused, form_class, data, field):
    form = form_class(data)
    assert not form.is_valid()
    assert form.errors[field][0].startswith("Null characters"), form.errors


def test_the_search_page_answers_a_nul(reviewer_client, nul_refused):
    assert reviewer_client.get(reverse("search"), {"dataset": NUL, "failure_mode": NUL}).status_code == 200
