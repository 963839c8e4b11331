"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest

from playground.current import current_membership, memberships


def upstream(request: HttpRequest) -> dict[str, object]:
    """Tell templates whether replies come from the offline emulator (never passed off as a model)."""
    return {
        "upstream_is_emulator": settings.PLAYGROUND_EMULATOR,
        "allow_signup": settings.PLAYGROUND_ALLOW_SIGNUP,
    }


def workspaces(request: HttpRequest) -> dict[str, object]:
    """The header's workspace switcher: the user's memberships and the current one (lazily queried)."""
    return {
        "workspace_memberships": lambda: memberships(request),
        "current_membership": lambda: current_membership(request),
    }
