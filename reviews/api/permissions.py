"""Role permissions for the API: reviewers read (and will annotate); admins do everything."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from reviews.roles import REVIEWER, is_admin


def has_role(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return is_admin(user) or user.groups.filter(name=REVIEWER).exists()


class ReadForReviewersWriteForAdmins(permissions.BasePermission):
    message = "This needs the reviewer role to read and the admin role to change."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return has_role(request.user)
        return is_admin(request.user)


class HasRole(permissions.BasePermission):
    """Reviewers and admins, for reading and writing (their own annotations)."""

    message = "This needs the reviewer or admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user)
