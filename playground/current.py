"""The workspace a signed-in user is working in: kept in the session, switchable, their personal one
by default. Memoized on the request, so the header and the view share one query."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from playground.models import Membership
from playground.permissions import can
from playground.selectors.workspaces import membership_list_for_user, workspace_current

SESSION_KEY = "workspace_id"


def memberships(request: HttpRequest) -> list[Membership]:
    """The user's memberships with their workspaces (for the switcher), one query per request."""
    if not request.user.is_authenticated:
        return []
    cached = request.__dict__.get("_memberships")
    if cached is None:
        cached = request.__dict__["_memberships"] = list(membership_list_for_user(user=request.user))
    return cached


def current_membership(request: HttpRequest) -> Membership | None:
    """The user's membership of their current workspace (None for anonymous users)."""
    if not request.user.is_authenticated:
        return None
    wanted = request.session.get(SESSION_KEY)
    mine = memberships(request)
    for membership in mine:
        if membership.workspace_id == wanted:
            return membership
    for membership in mine:
        if membership.workspace.personal_for_id == request.user.pk:
            return membership
    # An account made before workspaces existed, without its personal workspace yet.
    request.__dict__.pop("_memberships", None)
    return workspace_current(user=request.user, workspace_id=None)


def current_workspace_id(request: HttpRequest) -> int | None:
    """The id of the current workspace (None for anonymous users)."""
    membership = current_membership(request)
    return membership.workspace_id if membership else None


def switch_workspace(request: HttpRequest, workspace_id: int) -> bool:
    """Make ``workspace_id`` current if the user belongs to it; returns whether it did."""
    if not membership_list_for_user(user=request.user).filter(workspace_id=workspace_id).exists():
        return False
    request.session[SESSION_KEY] = workspace_id
    request.__dict__.pop("_memberships", None)
    return True


def current_workspace_facts(request: HttpRequest) -> dict[str, Any]:
    """The current workspace as the pages with a shared library (presets, prompts) show it: id, name, the
    user's role, whether they may publish to it, and whether it is personal (nobody to share with)."""
    membership = current_membership(request)
    if membership is None:  # pragma: no cover - every caller is signed in
        return {"id": None, "name": "", "role": None, "can_publish": False, "personal": True}
    return {
        "id": membership.workspace_id,
        "name": membership.workspace.name,
        "role": membership.role,
        "can_publish": can(membership.role, "create"),
        "personal": membership.workspace.personal_for_id is not None,
    }
