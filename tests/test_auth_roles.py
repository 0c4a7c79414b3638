"""Login, logout, the two roles, and the demo admin account."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from reviews import services
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_roles_exist_with_their_permissions():
    reviewer = set(Group.objects.get(name="reviewer").permissions.values_list("codename", flat=True))
    admin = set(Group.objects.get(name="admin").permissions.values_list("codename", flat=True))
    assert {"view_sample", "view_query", "add_annotation", "change_annotation"} <= reviewer
    assert not {"add_run", "change_run", "delete_query", "add_release", "delete_annotation"} & reviewer
    assert {"add_run", "change_run", "delete_query", "add_release", "change_modelconfig", "add_user"} <= admin


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


def test_login_post_without_csrf_token_is_refused(reviewer_user):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": reviewer_user.username, "password": PASSWORD})
    assert response.status_code == 403


def test_admin_site_is_for_admins_only(admin_client, reviewer_client):
    assert admin_client.get(reverse("admin:reviews_query_changelist")).status_code == 200
    assert reviewer_client.get(reverse("admin:index")).status_code == 302


def test_nav_shows_role(admin_client, reviewer_client):
    assert b"\xc2\xb7 admin" in admin_client.get(reverse("home")).content
    assert b"\xc2\xb7 reviewer" in reviewer_client.get(reverse("home")).content
    assert b'href="/admin/"' not in reviewer_client.get(reverse("home")).content


def test_admin_account_password_is_generated_once(capsys):
    first = services.admin_ensure(username="boss", password=None)
    assert first.created
    assert first.password
    assert len(first.password) >= 12
    user = User.objects.get(username="boss")
    assert user.check_password(first.password)
    assert user.is_superuser
    assert user.groups.filter(name="admin").exists()
    second = services.admin_ensure(username="boss", password=None)
    assert (second.created, second.password) == (False, None)
    assert User.objects.get(username="boss").check_password(first.password)


def test_admin_password_from_the_environment_is_applied_and_never_echoed():
    account = services.admin_ensure(username="boss", password="s3cret-from-env")
    assert account.password is None
    assert User.objects.get(username="boss").check_password("s3cret-from-env")
    services.admin_ensure(username="boss", password="rotated-pass-2")
    assert User.objects.get(username="boss").check_password("rotated-pass-2")


def test_user_create_assigns_roles():
    user = services.user_create(username="newbie", password=PASSWORD, roles=["reviewer"])
    assert list(user.groups.values_list("name", flat=True)) == ["reviewer"]
    assert UserFactory.create(roles=["admin"]).groups.get().name == "admin"


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
