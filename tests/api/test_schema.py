"""The OpenAPI schema: what it describes, its docs page, and Schemathesis over every operation.

Schemathesis sends generated requests and real-row requests and checks the responses against the schema.
The schema is loaded from the WSGI app (what /api/schema/ serves), and each request goes through the same
app in this process, so it sees the test database: a function-scoped transaction that is not rolled back
between hypothesis examples (acceptable: every example only needs the rows of `api_data` to exist).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.db.models import Model
from django.test import Client
from django.urls import resolve, reverse
from hypothesis import HealthCheck, settings
from schemathesis import APIOperation
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from grmweb.wsgi import application
from reviews.models import Query, Run, Sample, Upload
from reviews.services.accounts import api_token_create
from reviews.services.annotations import annotation_submit
from reviews.services.metarm import checkpoint_activate, checkpoint_register
from tests.factories import UserFactory, one_of_each

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
# An upload's body is raw JSON Lines: sent as the bytes generated for it, as for application/octet-stream.
schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

pytestmark = pytest.mark.django_db


def test_the_schema_and_docs_are_served_without_a_cdn(client):
    served = client.get(reverse("api-schema"), {"format": "json"})
    assert served.status_code == 200
    paths = served.json()["paths"]
    assert {"/api/v1/datasets/", "/api/v1/queries/", "/api/v1/runs/", "/api/v1/samples/"} <= set(paths)
    docs = client.get(reverse("api-docs")).content.decode()
    assert "swagger-ui" in docs
    assert "cdn." not in docs
    assert "/static/drf_spectacular_sidecar/" in docs


def test_the_schema_lists_the_new_query_filters(client):
    served = client.get(reverse("api-schema"), {"format": "json"}).json()
    parameters = {p["name"]: p for p in served["paths"]["/api/v1/queries/"]["get"]["parameters"]}
    assert {"best", "rating", "reviewed", "run", "correct"} <= set(parameters)
    assert parameters["reviewed"]["schema"]["type"] == "boolean"
    assert parameters["best"]["schema"]["minimum"] == 0


def test_the_schema_describes_the_release_endpoints(client):
    paths = client.get(reverse("api-schema"), {"format": "json"}).json()["paths"]
    assert {"/api/v1/releases/", "/api/v1/releases/{id}/", "/api/v1/releases/{id}/files/{name}"} <= set(paths)
    assert set(paths["/api/v1/releases/"]) == {"get", "post"}
    parameters = {p["name"] for p in paths["/api/v1/releases/"]["get"]["parameters"]}
    assert {"name", "kind", "status", "cursor", "page_size"} <= parameters
    post = paths["/api/v1/releases/"]["post"]
    assert set(post["responses"]) >= {"202", "400"}
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReleaseInRequest"
    }
    file_get = paths["/api/v1/releases/{id}/files/{name}"]["get"]
    ok = file_get["responses"]["200"]["content"]
    assert set(ok) == {"application/x-ndjson", "application/vnd.apache.parquet", "application/json"}
    assert all(media["schema"] == {"type": "string", "format": "binary"} for media in ok.values())
    assert {"304", "404", "409", "412"} <= set(file_get["responses"])


@pytest.fixture(autouse=True)
def isolated_uploads(settings, tmp_path):
    """The uploads the API receives here (and the release files api_data writes) go to folders of their own."""
    settings.GRM_UPLOAD_DIR = tmp_path / "uploads"
    settings.GRM_RELEASE_DIR = tmp_path / "releases"


@pytest.fixture
def wsgi_keeps_the_test_connection() -> Iterator[None]:
    """As Django's test client does: a request's end must not close the connection holding the test transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_data(reviewer_user, wsgi_keeps_the_test_connection) -> None:
    one_of_each(dataset_name="fuzz", reviewer=reviewer_user)
    checkpoint_activate(checkpoint=checkpoint_register(name="fuzz-metarm", location="/models/metarm"))


@pytest.fixture(params=["admin", "reviewer"])
def auth_headers(request, api_data, admin_user, reviewer_user) -> dict[str, str]:
    user = {"admin": admin_user, "reviewer": reviewer_user}[request.param]
    _, raw = api_token_create(user=user, name="schemathesis")
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_operation_conforms_to_the_schema(case, auth_headers):
    case.call_and_validate(headers=auth_headers, checks=CHECKS)


# Generated ids and names seldom name one of api_data's rows: each operation is also sent a request that does.
VALID_REQUESTS: dict[str, Callable[[], dict[str, Any]]] = {
    "POST /api/v1/runs/": lambda: {"body": {"dataset": "fuzz", "k": 1, "max_tokens": 8}},
    "POST /api/v1/annotations/": lambda: {"body": {"query": Query.objects.get().id, "decision": "reject"}},
    "POST /api/v1/runs/{id}/meta-score/": lambda: {"body": {"k_meta": 2}},
    "POST /api/v1/runs/{id}/hinted/": lambda: failed_run(),
    "POST /api/v1/samples/{id}/adjudication/": lambda: held_sample(),
    "GET /api/v1/runs/compare/": lambda: {"query": {"a": Run.objects.get().id, "b": Run.objects.get().id}},
    "POST /api/v1/rounds/": lambda: {"body": {"name": "fuzz-next", "parent": 1}},
    "POST /api/v1/metarm/checkpoints/": lambda: {"body": {"name": "fuzz-registered", "location": "/models/x"}},
    # Only queued: the test transaction never commits, so neither the build nor the ingestion task is sent.
    "POST /api/v1/releases/": lambda: {"body": {"kind": "rl_prompts", "filters": {"dataset": ["fuzz"]}}},
    "POST /api/v1/uploads/": lambda: {
        "query": {"dataset": "fuzz-upload"},
        "body": b'{"prompt": "Question?", "responses": ["Yes.", "No."], "best": 0}\n',
        "media_type": "application/x-ndjson",
    },
}


def failed_run() -> dict[str, Any]:
    """api_data's run done with its sample wrong: its query is resampled with the hint (no body)."""
    Run.objects.update(status=Run.Status.DONE)
    Sample.objects.update(correct=False)
    return {}


def held_sample() -> dict[str, Any]:
    """A second reviewer rejects the sample api_data's reviewer accepted: held, for an admin to decide."""
    sample = Sample.objects.get()
    annotation_submit(reviewer=UserFactory.create(roles=["reviewer"]), sample=sample, decision="reject")
    return {"body": {"decision": "reject", "note": "The rejecting reviewer is right."}}


# Views whose path names a row of another model than their own queryset's.
PATH_MODELS: dict[str, type[Model]] = {"/api/v1/uploads/{id}/errors/": Upload, "/api/v1/runs/{id}/errors/": Run}


def operation_labels() -> list[str]:
    labels = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        labels.append(result.ok().label)
    return labels


def real_path_parameters(operation: APIOperation) -> dict[str, Any]:
    """The first row of the view's model, by the view's lookup field, for each path parameter."""
    names = [parameter.name for parameter in operation.path_parameters]
    if not names:
        return {}
    view_class = resolve(operation.path.format(**dict.fromkeys(names, "1"))).func.view_class  # type: ignore[attr-defined]
    model = PATH_MODELS.get(operation.path) or view_class.queryset.model
    row = model._default_manager.order_by("pk").first()
    if operation.path == "/api/v1/releases/{id}/files/{name}":  # the file the release's factory wrote
        assert row is not None
        return {"id": row.pk, "name": "train.jsonl"}
    return {name: getattr(row, getattr(view_class, "lookup_field", "pk")) for name in names}


@pytest.mark.parametrize("label", operation_labels())
def test_real_rows_and_valid_bodies_conform_to_the_schema(label, auth_headers):
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    path_parameters = real_path_parameters(operation)
    if label in VALID_REQUESTS:
        request = {"media_type": "application/json", **VALID_REQUESTS[label]()}
        case = operation.Case(path_parameters=path_parameters, **request)
    else:
        assert operation.method.upper() == "GET" or not operation.body, f"{label}: add a request to VALID_REQUESTS"
        case = operation.Case(path_parameters=path_parameters)
    response = case.call_and_validate(headers=auth_headers, checks=CHECKS)
    # 403: a reviewer on an admin-only operation (tests/api/test_permissions.py pins who gets which).
    assert response.status_code in (200, 201, 202, 403), response.text


# Requests the fuzzer found 500s with (on PostgreSQL, or on both databases), kept as fixed regressions.
FOUND: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/verdicts/?run=1780983781381881060130816", None),  # past 64 bits
    ("GET", "/api/v1/samples/?query=9223372036854775808", None),
    ("GET", "/api/v1/annotations/?sample=9223372036854775808", None),
    ("POST", "/api/v1/runs/", {"dataset": "fuzz\x00", "k": 1}),  # NUL: PostgreSQL refuses it in a query
    ("POST", "/api/v1/runs/", {"dataset": "fuzz", "k": 1, "model_config": "\x00"}),
    ("POST", "/api/v1/annotations/", {"query": 1, "decision": "accept", "failure_modes": ["\x00"]}),
]


@pytest.mark.parametrize(("method", "url", "body"), FOUND)
def test_inputs_the_fuzzer_found_are_a_400(method, url, body, admin_user):
    _, raw = api_token_create(user=admin_user, name="regression")
    response = Client().generic(
        method,
        url,
        data=json.dumps(body) if body else "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 400, response.content
