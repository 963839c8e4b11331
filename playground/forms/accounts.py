"""The sign-up form: Django's own, with the password rules checked on the password field itself."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import UserCreationForm


class SignupForm(UserCreationForm):
    """UserCreationForm whose password rules are checked on the first password field.

    Django checks them on the confirmation field, and only when the two match, so a short password
    typed twice differently showed only "didn't match". Here both errors show, each under its field.
    """

    def validate_password_for_user(self, user: Any, password_field_name: str = "password1") -> None:
        super().validate_password_for_user(user, password_field_name="password1")
