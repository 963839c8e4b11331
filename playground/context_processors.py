"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest


def upstream(request: HttpRequest) -> dict[str, object]:
    """Tell templates whether replies come from the offline emulator (never passed off as a model)."""
    return {
        "upstream_is_emulator": settings.PLAYGROUND_EMULATOR,
        "allow_signup": settings.PLAYGROUND_ALLOW_SIGNUP,
    }
