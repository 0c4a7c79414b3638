"""Security headers on every kind of answer (issue 14): the Content-Security-Policy (this site only, no
inline script or style; Swagger UI's page alone allows inline styles), no framing, no sniffing, and the
referrer and opener policies. tests/browser/ checks in Chromium that the pages work under the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize(
    "path", ["/", "/login/", "/no/such/page/", "/api/v1/datasets/", "/healthz", "/static/js/forms.js"]
)
def test_every_answer_carries_the_policy(admin_client, path):
    response = admin_client.get(path)
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no other host
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    if path == "/healthz":
        return  # answered before the other middleware, for probes on plain HTTP and any host name
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_api_docs_allow_inline_styles_but_still_no_inline_script(admin_client):
    response = admin_client.get(reverse("api-docs"))
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["script-src"] == ["'self'"]
    assert "<script>" not in response.content.decode()  # its start-up script is a file
    script = admin_client.get(reverse("api-docs") + "?script")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_no_template_has_an_inline_script_or_handler():
    offenders = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        for marker in (
            "<script>",
            " onclick=",
            " onchange=",
            " onsubmit=",
            " oninput=",
            " onload=",
            " style=",
            "javascript:",
        ):
            if marker in text:
                offenders.append(f"{template.name}: {marker.strip()}")
    assert offenders == []
