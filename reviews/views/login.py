"""The sign-in page (also the admin's), with failed attempts throttled (reviews/throttles.py)."""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from reviews.throttles import FailedLoginThrottle


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = FailedLoginThrottle().refused(request)
        if wait is not None:
            minutes = math.ceil(wait / 60)
            refused = (
                f"Too many failed sign-ins for this name from your address: try again in {minutes} "
                f"minute{'s' if minutes != 1 else ''}, or ask an admin to reset your password."
            )
            form = self.get_form_class()(request)  # unbound: the password is not even checked
            context = self.get_context_data(form=form, refused=refused)
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(math.ceil(wait))
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        FailedLoginThrottle().failed(self.request)
        return super().form_invalid(form)
