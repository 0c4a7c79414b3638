"""Accounts: the two roles, the admin account (its password generated once), users with roles, API tokens."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from reviews.models import ApiToken
from reviews.services.accounts import admin_ensure, api_token_hash, user_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_roles_exist_with_their_permissions():
    reviewer = set(Group.objects.get(name="reviewer").permissions.values_list("codename", flat=True))
    admin = set(Group.objects.get(name="admin").permissions.values_list("codename", flat=True))
    assert {"view_sample", "view_query", "add_annotation", "change_annotation"} <= reviewer
    assert not {"add_run", "change_run", "delete_query", "add_release", "delete_annotation"} & reviewer
    assert {"add_run", "change_run", "delete_query", "add_release", "change_modelconfig", "add_user"} <= admin


def test_admin_account_password_is_generated_once(capsys):
    first = admin_ensure(username="boss", password=None)
    assert first.created
    assert first.password
    assert len(first.password) >= 12
    user = User.objects.get(username="boss")
    assert user.check_password(first.password)
    assert user.is_superuser
    assert user.groups.filter(name="admin").exists()
    second = admin_ensure(username="boss", password=None)
    assert (second.created, second.password) == (False, None)
    assert User.objects.get(username="boss").check_password(first.password)


def test_admin_password_from_the_environment_is_applied_and_never_echoed():
    account = admin_ensure(username="boss", password="s3cret-from-env")
    assert account.password is None
    assert User.objects.get(username="boss").check_password("s3cret-from-env")
    admin_ensure(username="boss", password="rotated-pass-2")
    assert User.objects.get(username="boss").check_password("rotated-pass-2")


def test_user_create_assigns_roles():
    user = user_create(username="newbie", password=PASSWORD, roles=["reviewer"])
    assert list(user.groups.values_list("name", flat=True)) == ["reviewer"]
    assert UserFactory.create(roles=["admin"]).groups.get().name == "admin"


def test_create_api_token_prints_a_token_and_stores_only_its_hash(reviewer_user, capsys):
    call_command("create_api_token", reviewer_user.username, "--name", "ci script")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("grm_")
    token = ApiToken.objects.get(user=reviewer_user)
    assert token.key_hash == api_token_hash(raw)
    assert raw not in (token.key_hash, token.prefix)
    assert Client().get(reverse("api-datasets"), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
