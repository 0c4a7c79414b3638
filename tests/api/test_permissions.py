"""The API's permission matrix: every route under /api/ and every method it allows, for every kind of caller.

The routes are enumerated from the URL resolver, not listed by hand: a route or method without an entry in
EXPECTED fails `test_every_api_route_has_an_expectation`, and so does an entry for a route that is gone.
"""

from __future__ import annotations

import enum
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from reviews.models import Release, Run, Sample, Upload
from reviews.services.accounts import api_token_create, api_token_revoke
from reviews.services.annotations import annotation_submit
from reviews.services.metarm import checkpoint_activate, checkpoint_register
from tests.factories import QueryFactory, UserFactory, one_of_each

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_uploads(settings, tmp_path):
    """The uploads the API receives here (and the release files api_data writes) go to folders of their own."""
    settings.GRM_UPLOAD_DIR = tmp_path / "uploads"
    settings.GRM_RELEASE_DIR = tmp_path / "releases"


class Access(enum.Enum):
    PUBLIC = "anyone, even without credentials (bad credentials are still a 401)"
    ROLE = "reviewers and admins"
    ADMIN = "admins only"


PUBLIC, ROLE, ADMIN = Access.PUBLIC, Access.ROLE, Access.ADMIN
# Reading is for either role; HEAD and OPTIONS are safe methods, so they follow GET.
READ = {"GET": ROLE, "HEAD": ROLE, "OPTIONS": ROLE}

# Who may call each (route name, method). Everything else is 401 without valid credentials and 403 without the role.
EXPECTED: dict[str, dict[str, Access]] = {
    "api-datasets": READ,
    "api-dataset": READ,
    "api-queries": READ,
    "api-runs": {**READ, "POST": ADMIN},
    "api-run": READ,
    "api-run-cancel": {"POST": ADMIN, "OPTIONS": ROLE},
    "api-run-report": READ,
    "api-run-errors": READ,
    "api-run-report-csv": READ,
    "api-run-meta-score": {"POST": ADMIN, "OPTIONS": ROLE},
    "api-run-hinted": {"POST": ADMIN, "OPTIONS": ROLE},
    "api-runs-compare": READ,
    "api-metarm-checkpoints": {**READ, "POST": ADMIN},
    "api-metarm-checkpoint-activate": {"POST": ADMIN, "OPTIONS": ROLE},
    "api-rounds": {**READ, "POST": ADMIN},
    "api-round": READ,
    "api-samples": READ,
    "api-sample-adjudication": {"POST": ADMIN, "OPTIONS": ROLE},
    "api-verdicts": READ,
    "api-annotations": {**READ, "POST": ROLE},  # reviewers submit their own annotations
    "api-uploads": {**READ, "POST": ADMIN},
    "api-upload": READ,
    "api-upload-errors": READ,
    # Releases are curated training data: admins build, read and download them; reviewers get 403.
    "api-releases": {"GET": ADMIN, "HEAD": ADMIN, "OPTIONS": ADMIN, "POST": ADMIN},
    "api-release": {"GET": ADMIN, "HEAD": ADMIN, "OPTIONS": ADMIN},
    "api-release-file": {"GET": ADMIN, "HEAD": ADMIN, "OPTIONS": ADMIN},
    # The OpenAPI schema and its Swagger page are public (SPECTACULAR_SETTINGS SERVE_PERMISSIONS = AllowAny):
    # they describe the API and hold no data. Kept in the table so a change to that is a decision, not an accident.
    "api-schema": {"GET": PUBLIC, "HEAD": PUBLIC, "OPTIONS": PUBLIC},
    "api-docs": {"GET": PUBLIC, "HEAD": PUBLIC},
}

DENIED = (401, 403)


@dataclass(frozen=True)
class Route:
    name: str
    view_class: type
    kwarg_names: tuple[str, ...]
    methods: tuple[str, ...]


def allowed_methods(pattern: URLPattern) -> tuple[str, ...]:
    """The methods the view answers (not 405): its handlers, plus HEAD wherever GET is (Django's View.setup)."""
    view_class = pattern.callback.view_class  # type: ignore[attr-defined]
    method_names = pattern.callback.view_initkwargs.get("http_method_names", view_class.http_method_names)  # type: ignore[attr-defined]
    names = [name for name in method_names if hasattr(view_class, name)]
    if "get" in names and "head" not in names:
        names.append("head")
    return tuple(sorted(name.upper() for name in names))


def walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            yield namespace, entry


def api_routes() -> list[Route]:
    """Every named route below the project's `api/` include, with the methods its view answers."""
    [api] = [
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and str(entry.pattern) == "api/"
    ]
    routes = []
    for namespace, pattern in walk(api.url_patterns):
        assert pattern.name, f"API route {pattern.pattern} has no name: the matrix keys routes by name"
        view_class = pattern.callback.view_class  # type: ignore[attr-defined]
        kwarg_names = tuple(pattern.pattern.converters)
        routes.append(Route(namespace + pattern.name, view_class, kwarg_names, allowed_methods(pattern)))
    return routes


ROUTES = api_routes()
CASES = [(route, method) for route in ROUTES for method in route.methods]


def test_every_api_route_has_an_expectation():
    found = {(route.name, method) for route, method in CASES}
    table = {(name, method) for name, methods in EXPECTED.items() for method in methods}
    assert sorted(found - table) == [], "API routes and methods with no entry in EXPECTED: add them"
    assert sorted(table - found) == [], "EXPECTED names routes or methods the API no longer has: remove them"


@pytest.fixture
def api_data(reviewer_user) -> None:
    """One row of each kind, so that every detail route resolves to a real row (and a ready, active meta RM
    checkpoint, so that a run can be meta-scored)."""
    one_of_each(dataset_name="matrix", reviewer=reviewer_user)
    checkpoint_activate(checkpoint=checkpoint_register(name="matrix-metarm", location="/models/metarm"))


# Views whose URL names a row of another model than their own queryset's.
URL_MODELS: dict[str, type[Model]] = {"api-upload-errors": Upload, "api-run-errors": Run}


def route_kwargs(route: Route) -> dict[str, Any]:
    """The URL arguments of the first row of the view's model (looked up by the view's lookup field)."""
    if not route.kwarg_names:
        return {}
    if route.name == "api-release-file":  # a release and the file its factory wrote
        return {"pk": Release.objects.order_by("pk").values_list("pk", flat=True).first(), "name": "train.jsonl"}
    [kwarg_name] = route.kwarg_names
    queryset = getattr(route.view_class, "queryset", None)
    model = URL_MODELS.get(route.name) or (queryset.model if queryset is not None else None)
    assert model is not None, f"{route.name}: no queryset to take a real {kwarg_name} from; add it to URL_MODELS"
    lookup_field = getattr(route.view_class, "lookup_field", "pk")
    row = model._default_manager.order_by("pk").first()
    assert row is not None, f"{route.name}: api_data creates no {model.__name__}; add one"
    return {kwarg_name: getattr(row, lookup_field)}


@dataclass(frozen=True)
class Body:
    content: str
    content_type: str = "application/json"
    query: str = ""


REGISTERED = itertools.count()


def disagreement() -> Body:
    """A second reviewer rejects the sample api_data's reviewer accepted: it is held, for an admin to decide."""
    sample = Sample.objects.order_by("pk").first()
    annotation_submit(reviewer=UserFactory.create(roles=["reviewer"]), sample=sample, decision="reject")
    return Body(json.dumps({"decision": "accept", "note": "The accepting reviewer is right."}))


def failed_run() -> Body:
    """api_data's run, done with every sample wrong, and no live hinted resampling of it (each caller starts one)."""
    run = Run.objects.order_by("pk").first()
    assert run is not None
    Run.objects.filter(source_run=run).update(status=Run.Status.CANCELLED)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE)
    Sample.objects.filter(run=run).update(correct=False)
    return Body("")


def compare_query() -> str:
    run = Run.objects.order_by("pk").first()
    assert run is not None
    return f"?a={run.pk}&b={run.pk}"


# Requests that a caller with the right role gets a 2xx for; writes not listed are sent an empty JSON object.
VALID_BODIES: dict[tuple[str, str], Callable[[], Body]] = {
    ("api-runs", "POST"): lambda: Body(json.dumps({"dataset": "matrix", "k": 1, "max_tokens": 8})),
    ("api-run-hinted", "POST"): failed_run,
    ("api-sample-adjudication", "POST"): disagreement,
    ("api-runs-compare", "GET"): lambda: Body("", query=compare_query()),
    ("api-runs-compare", "HEAD"): lambda: Body("", query=compare_query()),
    # A registration under a new name each time (training needs finished runs with labelled judgments).
    ("api-metarm-checkpoints", "POST"): lambda: Body(
        json.dumps({"name": f"registered-{next(REGISTERED)}", "location": "/models/other-metarm"})
    ),
    ("api-rounds", "POST"): lambda: Body(json.dumps({"name": "matrix-next"})),
    ("api-annotations", "POST"): lambda: Body(json.dumps({"query": QueryFactory.create().id, "decision": "reject"})),
    # Only queued: the test transaction never commits, so the ingestion task is never sent.
    # Only queued: the build task is sent on commit, and the test transaction never commits.
    ("api-releases", "POST"): lambda: Body(json.dumps({"kind": "rl_prompts", "filters": {"dataset": ["matrix"]}})),
    ("api-uploads", "POST"): lambda: Body(
        json.dumps({"id": "up-1", "prompt": "Question?", "responses": ["Yes.", "No."], "best": 0}) + "\n",
        content_type="application/x-ndjson",
        query="?dataset=matrix-upload",
    ),
}


def send(client: Client, route: Route, method: str, headers: dict[str, str]) -> int:
    url = reverse(route.name, kwargs=route_kwargs(route))
    body = VALID_BODIES.get((route.name, method), lambda: Body("{}"))()
    content = body.content if method in ("POST", "PUT", "PATCH") else ""
    response = client.generic(method, url + body.query, data=content, content_type=body.content_type, headers=headers)
    return response.status_code


def bearer(user: User) -> dict[str, str]:
    _, raw = api_token_create(user=user, name="matrix")
    return {"Authorization": f"Bearer {raw}"}


def revoked_bearer(user: User) -> dict[str, str]:
    token, raw = api_token_create(user=user, name="revoked")
    api_token_revoke(token=token)
    return {"Authorization": f"Bearer {raw}"}


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("route", "method"), CASES, ids=[f"{route.name}-{method}" for route, method in CASES])
def test_permission_matrix(route, method, api_data, admin_user, reviewer_user):
    access = EXPECTED.get(route.name, {}).get(method)
    assert access is not None, f"{route.name} {method} has no entry in EXPECTED"
    nobody = UserFactory.create(username="no-role")
    # (who, client, headers, the status it must get: an int, or None for "allowed")
    callers: list[tuple[str, Client, dict[str, str], int | None]] = [
        ("anonymous", Client(), {}, None if access is PUBLIC else 401),
        ("unknown token", Client(), {"Authorization": "Bearer grm_not-a-real-token"}, 401),
        ("malformed header", Client(), {"Authorization": "Bearer two tokens"}, 401),
        ("revoked admin token", Client(), revoked_bearer(admin_user), 401),
        ("no-role token", Client(), bearer(nobody), None if access is PUBLIC else 403),
        ("no-role session", logged_in(nobody), {}, None if access is PUBLIC else 403),
        ("reviewer token", Client(), bearer(reviewer_user), 403 if access is ADMIN else None),
        ("reviewer session", logged_in(reviewer_user), {}, 403 if access is ADMIN else None),
        ("admin token", Client(), bearer(admin_user), None),
        ("admin session", logged_in(admin_user), {}, None),
    ]
    wrong = []
    for who, client, headers, expected in callers:
        status = send(client, route, method, headers)
        if expected is None and (status in DENIED or status >= 500):
            wrong.append(f"{who}: {status}, expected allowed (not 401/403/5xx)")
        elif expected is not None and status != expected:
            wrong.append(f"{who}: {status}, expected {expected}")
        elif expected is None and method == "GET" and status != 200:
            wrong.append(f"{who}: {status}, expected 200 (api_data holds a row for every detail route)")
        elif expected is None and (route.name, method) in VALID_BODIES and not 200 <= status < 300:
            wrong.append(f"{who}: {status}, expected 2xx for the valid request in VALID_BODIES")
    assert wrong == [], f"{method} {route.name} ({access.value}):\n" + "\n".join(wrong)


def test_denials_name_the_scheme_and_the_missing_role(admin_user):
    """A 401 tells the client how to authenticate; a 403 says which role it lacks."""
    client = Client()
    anonymous = client.get(reverse("api-datasets"))
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="api"'
    nobody = client.get(reverse("api-datasets"), headers=bearer(UserFactory.create()))
    assert "reviewer role" in nobody.json()["detail"]


SAFE = {"GET", "HEAD", "OPTIONS"}


def reviewer_status(route: Route, method: str) -> int:
    """What a reviewer gets for a method the route does not answer: the role is checked before the method, so a
    write on a route where reviewers may write nothing is a 403, and anything else the 405 an admin gets."""
    access = EXPECTED[route.name]
    if method in SAFE or all(who is PUBLIC for who in access.values()):
        return 405
    reviewers_write_here = any(who is not ADMIN for name, who in access.items() if name not in SAFE)
    return 405 if reviewers_write_here else 403


@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_methods_a_route_does_not_answer_are_405_after_the_role_check(route, api_data, admin_user, reviewer_user):
    unanswered = sorted({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - set(route.methods))
    statuses = {method: send(Client(), route, method, bearer(admin_user)) for method in unanswered}
    assert statuses == dict.fromkeys(unanswered, 405)
    as_reviewer = {method: send(Client(), route, method, bearer(reviewer_user)) for method in unanswered}
    assert as_reviewer == {method: reviewer_status(route, method) for method in unanswered}
