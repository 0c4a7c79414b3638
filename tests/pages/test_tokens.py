"""The API tokens page: create (the token shown once), list, revoke one's own, CSRF, login, escaping."""

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import ApiToken
from reviews.services.accounts import api_token_create, api_token_hash, api_token_revoke
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.login(username=user.username, password=PASSWORD)
    return client


def api_status(raw):
    return Client().get(reverse("api-datasets"), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code


def test_creating_a_token_shows_it_once_and_it_works(reviewer_client, reviewer_user):
    response = reviewer_client.post(reverse("tokens"), {"name": "nightly export"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=reviewer_user)
    page = response.content.decode()
    raw = page.split('class="token-value" type="text" readonly value="', 1)[1].split('"', 1)[0]
    assert raw.startswith("grm_")
    assert token.key_hash == api_token_hash(raw)
    assert raw not in (token.key_hash, token.prefix)
    assert "shown only this once" in page
    assert "nightly export" in page
    assert api_status(raw) == 200
    again = reviewer_client.get(reverse("tokens")).content.decode()
    assert raw not in again
    assert token.prefix in again
    assert "nightly export" in again
    assert "shown only this once" not in again


def test_htmx_create_swaps_in_the_fragment_with_the_token(reviewer_client):
    response = reviewer_client.post(reverse("tokens"), {"name": "from htmx"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="tokens">')
    assert "<html" not in page
    assert "grm_" in page
    assert ApiToken.objects.filter(name="from htmx").count() == 1


def test_a_nameless_token_is_refused_with_a_field_error(reviewer_client):
    response = reviewer_client.post(reverse("tokens"), {"name": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_list_shows_only_ones_own_tokens_and_their_state(reviewer_client, reviewer_user, admin_user):
    mine, _ = api_token_create(user=reviewer_user, name="mine")
    old, _ = api_token_create(user=reviewer_user, name="old one")
    api_token_revoke(token=old)
    api_token_create(user=admin_user, name="the admin's")
    response = reviewer_client.get(reverse("tokens"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "mine" in page
    assert "old one" in page
    assert "the admin" not in page
    assert page.count('class="tag good">active<') == 1
    assert page.count(">revoked<") == 1
    assert reverse("token-revoke", args=[mine.id]) in page
    assert reverse("token-revoke", args=[old.id]) not in page  # nothing left to revoke
    assert 'href="/tokens/"' in page  # the nav link


def test_token_names_are_escaped(reviewer_client):
    page = reviewer_client.post(reverse("tokens"), {"name": '<script>alert("x")</script>'}).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_revoking_a_token_makes_the_api_answer_401(reviewer_client, reviewer_user):
    token, raw = api_token_create(user=reviewer_user, name="ci")
    assert api_status(raw) == 200
    response = reviewer_client.post(reverse("token-revoke", args=[token.id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("tokens")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_status(raw) == 401
    assert "revoked" in reviewer_client.get(reverse("tokens")).content.decode()


def test_htmx_revoke_swaps_in_the_row(reviewer_client, reviewer_user):
    token, raw = api_token_create(user=reviewer_user, name="ci")
    response = reviewer_client.post(reverse("token-revoke", args=[token.id]), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert page.lstrip().startswith(f'<tr id="token-{token.id}"')
    assert ">revoked<" in page
    assert api_status(raw) == 401


def test_nobody_revokes_someone_elses_token(reviewer_client, admin_user):
    token, raw = api_token_create(user=admin_user, name="admin's")
    assert reviewer_client.post(reverse("token-revoke", args=[token.id])).status_code == 404
    assert reviewer_client.post(reverse("token-revoke", args=[10**9])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert api_status(raw) == 200


def test_revoke_needs_a_post(reviewer_client, reviewer_user):
    token, raw = api_token_create(user=reviewer_user, name="ci")
    assert reviewer_client.get(reverse("token-revoke", args=[token.id])).status_code == 405
    assert api_status(raw) == 200


def test_posts_without_the_csrf_token_are_refused(reviewer_user):
    client = logged_in(reviewer_user, enforce_csrf_checks=True)
    token, raw = api_token_create(user=reviewer_user, name="ci")
    assert client.post(reverse("token-revoke", args=[token.id])).status_code == 403
    assert client.post(reverse("tokens"), {"name": "forged"}).status_code == 403
    assert api_status(raw) == 200
    assert not ApiToken.objects.filter(name="forged").exists()
    page = client.get(reverse("tokens")).content.decode()
    csrf = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    created = client.post(reverse("tokens"), {"name": "real", "csrfmiddlewaretoken": csrf})
    assert created.status_code == 200
    assert ApiToken.objects.filter(name="real").exists()
    revoked = client.post(reverse("token-revoke", args=[token.id]), HTTP_X_CSRFTOKEN=csrf, HTTP_HX_REQUEST="true")
    assert revoked.status_code == 200
    assert api_status(raw) == 401


def test_admins_manage_their_own_tokens_too(admin_client, admin_user):
    admin_client.post(reverse("tokens"), {"name": "admin script"})
    assert ApiToken.objects.get().user == admin_user


@pytest.mark.parametrize(("method", "name", "args"), [("get", "tokens", []), ("post", "token-revoke", [1])])
def test_anonymous_users_go_to_the_login_page(method, name, args):
    response = getattr(Client(), method)(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
