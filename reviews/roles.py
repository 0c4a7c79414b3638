"""The two roles: reviewers read and annotate; admins also run, configure, curate and export.

Roles are Django groups (created by migration 0002 with their permissions); a superuser is an admin.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse

REVIEWER = "reviewer"
ADMIN = "admin"


def is_admin(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_grm_is_admin", None)
    if cached is None:
        cached = user.groups.filter(name=ADMIN).exists()
        user._grm_is_admin = cached
    return bool(cached)


def is_reviewer(user: Any) -> bool:
    """Reviewers and admins: those who may annotate."""
    if is_admin(user):
        return True
    cached = getattr(user, "_grm_is_reviewer", None)
    if cached is None:
        cached = user.groups.filter(name=REVIEWER).exists()
        user._grm_is_reviewer = cached
    return bool(cached)


class RolesBackend(ModelBackend):
    """Django's model backend, whose request user arrives with its two roles read in the same
    statement (`_grm_is_admin`, `_grm_is_reviewer`), so the role checks of a page cost no query."""

    def get_user(self, user_id: Any) -> Any:
        memberships = User.groups.through.objects.filter(user=OuterRef("pk"))
        user = (
            User._default_manager.annotate(
                _grm_is_admin=Exists(memberships.filter(group__name=ADMIN)),
                _grm_is_reviewer=Exists(memberships.filter(group__name=REVIEWER)),
            )
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None


def reviewer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged-in reviewers and admins: others get 403 (anonymous users go to the login page)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_reviewer(request.user):
            raise PermissionDenied("This page is for reviewers.")
        return view(request, *args, **kwargs)

    return wrapped


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged-in admins only: others get 403 (anonymous users go to the login page)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            raise PermissionDenied("This page is for admins.")
        return view(request, *args, **kwargs)

    return wrapped


def role_context(request: HttpRequest) -> dict[str, bool]:
    """Template context: whether the current user holds the admin role, and the reviewer role (admins
    review too)."""
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {"user_is_admin": is_admin(user), "user_is_reviewer": signed_in and is_reviewer(user)}
