"""Workspace pages: settings (members, roles, invitations, the API key), a new workspace, switching, and
joining by an invitation link. Each view checks with a form and calls one service or selector; who may
do what is decided in playground/permissions.py (non-members get 404, members without the role 403).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from playground import current
from playground.forms.workspaces import (
    InvitationForm,
    RoleForm,
    SwitchForm,
    WorkspaceForm,
    WorkspaceSettingsForm,
)
from playground.models import Invitation, Membership, Workspace
from playground.permissions import can
from playground.pricing.selectors import workspace_daily_cost
from playground.selectors.workspaces import (
    invitation_list,
    invitation_state,
    member_list,
    workspace_get_for_user,
)
from playground.services import workspaces as services


def _member(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # A workspace, member or invitation of a workspace the user is not in is simply not found.
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (Workspace.DoesNotExist, Membership.DoesNotExist, Invitation.DoesNotExist):
            raise Http404("Not found.") from None
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(
                "workspace_settings", workspace_id=kwargs.get("workspace_id") or _back_id(request)
            )

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return login_required(wrapped)


def _back_id(request: HttpRequest) -> int:
    return current.current_workspace_id(request) or 0


@_member
def workspace_settings(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """Members see who is in the workspace; owners also manage roles, invitations and the API key."""
    workspace, role = workspace_get_for_user(user=request.user, workspace_id=workspace_id)
    manage = can(role, "manage_members")
    invitations = [
        {"invitation": i, "url": request.build_absolute_uri(f"/join/{i.token}/")}
        for i in invitation_list(workspace=workspace)
    ]
    context = {
        "workspace": workspace,
        "role": role,
        "manage": manage,
        "members": member_list(workspace=workspace),
        "invitations": invitations if manage else [],
        "settings_form": WorkspaceSettingsForm(initial={"name": workspace.name}),
        "invitation_form": InvitationForm(),
        "role_choices": RoleForm.base_fields["role"].choices,  # type: ignore[attr-defined]
        # What the workspace's runs cost per day (playground/pricing), drawn by pages/workspace.js.
        "spending": workspace_daily_cost(workspace_id=workspace.pk, days=30),
    }
    return render(request, "playground/workspace.html", context)


@require_POST
@_member
def workspace_update(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """Rename the workspace and set or remove its API key (owners)."""
    form = WorkspaceSettingsForm(request.POST)
    if not form.is_valid():
        raise ValidationError("A workspace needs a name of at most 120 characters.")
    data = form.cleaned_data
    api_key = "" if data["remove_api_key"] else (data["api_key"] or None)
    services.workspace_update(
        user=request.user, workspace_id=workspace_id, name=data["name"], api_key=api_key
    )
    messages.success(request, "Settings saved.")
    return redirect("workspace_settings", workspace_id=workspace_id)


@require_POST
@login_required
def workspace_create(request: HttpRequest) -> HttpResponse:
    """A new team workspace, owned by the user, made current."""
    form = WorkspaceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A workspace needs a name of at most 120 characters.")
        return redirect("playground")
    workspace = services.workspace_create(user=request.user, name=form.cleaned_data["name"])
    current.switch_workspace(request, workspace.pk)
    messages.success(request, f"Created “{workspace.name}”. Invite your team from here.")
    return redirect("workspace_settings", workspace_id=workspace.pk)


@require_POST
@login_required
def workspace_switch(request: HttpRequest) -> HttpResponse:
    """Work in another of the user's workspaces (new conversations and presets go there)."""
    form = SwitchForm(request.POST)
    if not form.is_valid() or not current.switch_workspace(request, form.cleaned_data["workspace"]):
        raise Http404("No such workspace.")
    return redirect("conversation_list")


@require_POST
@_member
def invitation_create(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """A new invitation link (owners)."""
    form = InvitationForm(request.POST)
    if not form.is_valid():
        raise ValidationError("Pick a role and an expiry.")
    days = form.cleaned_data["expires_in_days"]
    services.invitation_create(
        user=request.user,
        workspace_id=workspace_id,
        role=form.cleaned_data["role"],
        expires_in=timedelta(days=days) if days else None,
    )
    messages.success(request, "Invitation link created: copy it below and send it to your colleague.")
    return redirect("workspace_settings", workspace_id=workspace_id)


@require_POST
@_member
def invitation_revoke(request: HttpRequest, workspace_id: int, invitation_id: int) -> HttpResponse:
    """Revoke an invitation link (owners)."""
    if not Invitation.objects.filter(pk=invitation_id, workspace_id=workspace_id).exists():
        raise Invitation.DoesNotExist
    services.invitation_revoke(user=request.user, invitation_id=invitation_id)
    messages.success(request, "Invitation revoked.")
    return redirect("workspace_settings", workspace_id=workspace_id)


@require_POST
@_member
def member_role(request: HttpRequest, workspace_id: int, membership_id: int) -> HttpResponse:
    """Change a member's role (owners; never leaving the workspace without an owner)."""
    form = RoleForm(request.POST)
    if not form.is_valid():
        raise ValidationError("Pick a role.")
    membership = Membership.objects.get(pk=membership_id, workspace_id=workspace_id)
    services.membership_set_role(
        user=request.user, membership_id=membership.pk, role=form.cleaned_data["role"]
    )
    messages.success(request, f"{membership.user.get_username()} is now {form.cleaned_data['role']}.")
    return redirect("workspace_settings", workspace_id=workspace_id)


@require_POST
@_member
def member_remove(request: HttpRequest, workspace_id: int, membership_id: int) -> HttpResponse:
    """Remove a member (owners; never the last owner)."""
    membership = Membership.objects.get(pk=membership_id, workspace_id=workspace_id)
    services.membership_remove(user=request.user, membership_id=membership.pk)
    messages.success(request, f"Removed {membership.user.get_username()}.")
    return redirect("workspace_settings", workspace_id=workspace_id)


@login_required
def join(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the invitation; POST joins the workspace and makes it current."""
    try:
        invitation = Invitation.objects.select_related("workspace").get(token=token)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation.") from None
    state = invitation_state(invitation)
    if state == "active" and invitation.workspace.personal_for_id is not None:
        state = "personal"  # made before personal workspaces refused invitations: it admits nobody
    if state != "active":
        return render(request, "playground/gone.html", {"what": "invitation", "reason": state}, status=410)
    if request.method == "POST":
        membership = services.invitation_accept(user=request.user, token=token)
        current.switch_workspace(request, membership.workspace_id)
        messages.success(request, f"You joined “{invitation.workspace.name}” as {membership.role}.")
        return redirect("conversation_list")
    already = invitation.workspace.memberships.filter(user=request.user).first()
    return render(request, "playground/join.html", {"invitation": invitation, "already": already})
