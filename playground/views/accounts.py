"""Sign-in: Django's LoginView, throttled per account and per client address (playground/throttle.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from playground import throttle


class LoginView(auth_views.LoginView):
    """Refuses with HTTP 429 and "Too many attempts; try again in N seconds" once the account or the
    address has failed too often, before the password is checked (the right one is refused too).
    Failures are counted by the ``user_login_failed`` signal, for every way of signing in."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttle.login_wait(request, request.POST.get("username"))
        if wait:
            form = self.form_class(request)
            context = self.get_context_data(form=form, throttled=throttle.message(wait))
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)
