"""Login and logout, pages behind the login, the role in the nav, and the admin site for admins only."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_pages_need_login():
    response = Client().get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_and_logout_round_trip(reviewer_user):
    client = Client()
    response = client.post(reverse("login"), {"username": reviewer_user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_wrong_password_shows_an_error(reviewer_user):
    response = Client().post(reverse("login"), {"username": reviewer_user.username, "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_admin_site_is_for_admins_only(admin_client, reviewer_client):
    assert admin_client.get(reverse("admin:reviews_query_changelist")).status_code == 200
    assert reviewer_client.get(reverse("admin:index")).status_code == 302


def test_nav_shows_role(admin_client, reviewer_client):
    assert b"\xc2\xb7 admin" in admin_client.get(reverse("home")).content
    assert b"\xc2\xb7 reviewer" in reviewer_client.get(reverse("home")).content
    assert b'href="/admin/"' not in reviewer_client.get(reverse("home")).content


def test_the_admin_role_cannot_grant_or_take_over_superuser(admin_client, admin_user):
    boss = User.objects.create_superuser("boss", password="boss-pass-123")
    boss_page = admin_client.get(reverse("admin:auth_user_change", args=[boss.id]))
    assert b'name="username"' not in boss_page.content  # view only
    post = admin_client.post(reverse("admin:auth_user_change", args=[boss.id]), {"username": "mine", "is_active": "on"})
    assert post.status_code == 403
    assert admin_client.get(reverse("admin:auth_user_password_change", args=[boss.id])).status_code == 403
    response = admin_client.get(reverse("admin:auth_user_change", args=[admin_user.id]))
    assert response.status_code == 200
    assert b'name="is_superuser"' not in response.content
    reviewer = UserFactory.create(roles=["reviewer"])
    page = admin_client.get(reverse("admin:auth_user_change", args=[reviewer.id]))
    assert b'name="groups"' in page.content
