"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest

from playground.current import current_membership, memberships
from playground.params import server_json


def upstream(request: HttpRequest) -> dict[str, object]:
    """Tell templates which kind of server answers (Fireworks, the offline emulator, another
    OpenAI-compatible server), from the base URL: emulated replies are never passed off as a model's."""
    server = server_json(settings.FIREWORKS_BASE_URL)
    return {
        "upstream": server,
        "upstream_is_emulator": server["kind"] == "emulator",
        "allow_signup": settings.PLAYGROUND_ALLOW_SIGNUP,
    }


def workspaces(request: HttpRequest) -> dict[str, object]:
    """The header's workspace switcher: the user's memberships and the current one (lazily queried)."""
    return {
        "workspace_memberships": lambda: memberships(request),
        "current_membership": lambda: current_membership(request),
    }
