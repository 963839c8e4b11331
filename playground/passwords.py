"""A password rule Django lacks: enough different characters (eight spaces, "aaaaaaaa" and "12121212" pass
Django's length, common-password and numeric checks)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class VarietyValidator:
    """At least ``min_distinct`` different characters, not counting spaces."""

    def __init__(self, min_distinct: int = 5) -> None:
        self.min_distinct = min_distinct

    def validate(self, password: str, user: Any = None) -> None:
        if len(set(password) - set(" \t\r\n")) < self.min_distinct:
            raise ValidationError(
                f"This password uses too few different characters: use at least {self.min_distinct}, "
                "not counting spaces.",
                code="password_too_uniform",
            )

    def get_help_text(self) -> str:
        return (
            f"Your password must use at least {self.min_distinct} different characters, not counting spaces."
        )
