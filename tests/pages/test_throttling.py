"""Failed sign-ins and failed API tokens are throttled (issue 14), with DRF's rate throttles over the
Django cache: past the limit the caller is refused before the password or token is checked (429), so
even the right one no longer gets in until the period passes; success is never counted."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from reviews.services.accounts import api_token_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def low_limits(monkeypatch):
    cache.clear()
    rates = {"login_failures": "3/hour", "token_failures": "3/hour"}
    monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES", rates)
    yield
    cache.clear()


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_failed_sign_ins_are_throttled_per_name_and_address():
    user = UserFactory.create(username="maria", roles=["reviewer"])
    client = Client()
    for _ in range(3):
        assert sign_in(client, "maria", "wrong").status_code == 200  # the form again, with its error
    refused = sign_in(client, "maria", PASSWORD)  # the right password, too late
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.content.decode()
    assert int(refused["Retry-After"]) > 3000
    assert "_auth_user_id" not in client.session
    assert sign_in(Client(), "maria", PASSWORD, address="10.0.0.2").status_code == 302  # another address
    assert sign_in(Client(), "someone-else", "wrong").status_code == 200  # another name
    assert user.pk


def test_successful_sign_ins_are_not_counted():
    UserFactory.create(username="omar", roles=["reviewer"])
    for _ in range(5):
        client = Client()
        assert sign_in(client, "omar", PASSWORD).status_code == 302


def test_the_admin_signs_in_through_the_same_page():
    answer = Client().get("/admin/login/?next=/admin/")
    assert answer.status_code == 302
    assert answer["Location"] == reverse("login") + "?next=/admin/"


def test_failed_tokens_are_throttled_per_address(admin_user):
    _, raw = api_token_create(user=admin_user, name="good")
    client = Client()
    for _ in range(3):
        bad = client.get("/api/v1/datasets/", HTTP_AUTHORIZATION="Bearer grm_wrong", REMOTE_ADDR="10.0.0.9")
        assert bad.status_code == 401
    refused = client.get("/api/v1/datasets/", HTTP_AUTHORIZATION=f"Bearer {raw}", REMOTE_ADDR="10.0.0.9")
    assert refused.status_code == 429
    assert "Too many failed tokens" in refused.json()["detail"]
    assert int(refused["Retry-After"]) > 3000
    fine = client.get("/api/v1/datasets/", HTTP_AUTHORIZATION=f"Bearer {raw}", REMOTE_ADDR="10.0.0.10")
    assert fine.status_code == 200
    for _ in range(5):  # a good token is never counted
        assert (
            client.get("/api/v1/datasets/", HTTP_AUTHORIZATION=f"Bearer {raw}", REMOTE_ADDR="10.0.0.10").status_code
            == 200
        )


def test_a_malformed_rate_stops_start_up_naming_the_variable(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from grmweb.env import env_rate

    monkeypatch.setenv("GRM_LOGIN_FAILURES", "ten an hour")
    with pytest.raises(ImproperlyConfigured, match="GRM_LOGIN_FAILURES='ten an hour' is not a rate"):
        env_rate("GRM_LOGIN_FAILURES", "10/hour")
    monkeypatch.setenv("GRM_LOGIN_FAILURES", "5/minute")
    assert env_rate("GRM_LOGIN_FAILURES", "10/hour") == "5/minute"
