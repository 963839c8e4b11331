"""Workspace reads: a user's memberships and role, the current workspace, members and invitations."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from playground.models import Invitation, Membership, Scope, Workspace, personal_workspace_of
from playground.permissions import can


def membership_list_for_user(*, user: Any) -> QuerySet[Membership]:
    """The user's memberships with their workspaces, the personal one first, then by name."""
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return (
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by("-workspace__personal_for", "workspace__name", "workspace_id")
    )


def scoped_visible_q(*, user: Any, workspace_id: int | None = None) -> Q:
    """Which scoped objects (``owner``, ``scope``, ``workspace`` fields: presets, saved prompts) the user
    sees: their personal ones and the libraries of their workspaces (of ``workspace_id`` only, when
    given). The user must be signed in."""
    libraries = Membership.objects.filter(user=user).values("workspace_id")
    if workspace_id is not None:
        libraries = libraries.filter(workspace_id=workspace_id)
    return Q(owner=user, scope=Scope.PERSONAL) | Q(scope=Scope.WORKSPACE, workspace_id__in=libraries)


def member_role(*, user: Any) -> Subquery:
    """The user's role in the row's ``workspace`` (None when not a member), to annotate a queryset with."""
    role = Membership.objects.filter(workspace_id=OuterRef("workspace_id"), user=user).values("role")
    return Subquery(role[:1])


def role_of(*, user: Any, workspace_id: int) -> str | None:
    """The user's role in the workspace, or None (anonymous or not a member)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(user=user, workspace_id=workspace_id).values_list("role", flat=True).first()
    )


def workspace_current(*, user: Any, workspace_id: int | None) -> Membership:
    """The membership of the workspace the user works in: the one asked for if they belong to it, else
    their personal workspace (created when missing)."""
    memberships = list(membership_list_for_user(user=user))
    for membership in memberships:
        if membership.workspace_id == workspace_id:
            return membership
    personal = next((m for m in memberships if m.workspace.personal_for_id == user.pk), None)
    if personal is None:
        workspace = personal_workspace_of(user.pk)
        personal = Membership.objects.select_related("workspace").get(workspace=workspace, user=user)
    return personal


def workspace_get_for_user(*, user: Any, workspace_id: int, action: str = "view") -> tuple[Workspace, str]:
    """A workspace the user belongs to, with their role; Workspace.DoesNotExist for others, and
    PermissionDenied when the role does not allow ``action`` (manage_members, manage_settings, create)."""
    role = role_of(user=user, workspace_id=workspace_id)
    if role is None:
        raise Workspace.DoesNotExist("No such workspace.")
    if action != "view" and not can(role, action):
        raise PermissionDenied(f"Your role ({role}) cannot do that in this workspace.")
    return Workspace.objects.get(pk=workspace_id), role


def member_list(*, workspace: Workspace) -> QuerySet[Membership]:
    """The workspace's members, owners first."""
    return workspace.memberships.select_related("user").order_by("role", "user__username")


def invitation_list(*, workspace: Workspace) -> QuerySet[Invitation]:
    """The workspace's invitations that can still be used, newest first."""
    now = timezone.now()
    return workspace.invitations.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)


def invitation_state(invitation: Invitation) -> str:
    """ "active", "expired" or "revoked"."""
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at is not None and invitation.expires_at <= timezone.now():
        return "expired"
    return "active"


def workspace_api_key(*, user: Any, conversation_id: int | None, workspace_id: int | None) -> str:
    """The Fireworks key for a run: the own key of the conversation's workspace (or, for a new one, of
    the user's current workspace), decrypted; "" when it has none (the server's key is used)."""
    from playground.selectors.conversations import conversation_list_for_user

    if conversation_id is not None:
        workspaces = conversation_list_for_user(user=user).filter(pk=conversation_id).values("workspace_id")
    elif workspace_id is not None:
        workspaces = Membership.objects.filter(user=user, workspace_id=workspace_id).values("workspace_id")
    else:
        workspaces = Workspace.objects.filter(personal_for=user).values("pk")
    workspace = Workspace.objects.filter(pk__in=workspaces).exclude(api_key_encrypted="").first()
    return workspace.api_key() if workspace else ""


def run_access(*, user: Any, conversation_id: int | None, workspace_id: int | None) -> str:
    """Whether the user may start a run there, and with which key: raises as ``run_start`` would
    (Conversation.DoesNotExist, Workspace.DoesNotExist, PermissionDenied), else returns
    ``workspace_api_key``. A read only, so the consumer can refuse a frame before anything goes
    upstream and then send the request while ``run_start`` writes."""
    from playground.selectors.conversations import conversation_get_for_user

    if conversation_id is not None:
        conversation_get_for_user(user=user, conversation_id=conversation_id, action="run")
    elif workspace_id is not None:
        workspace_get_for_user(user=user, workspace_id=workspace_id, action="create")
    return workspace_api_key(user=user, conversation_id=conversation_id, workspace_id=workspace_id)


def run_access_facts(*, user: Any) -> tuple[dict[int, str], int | None, dict[int, str]]:
    """What a socket keeps to decide ``chat.start`` without a query: the user's role per workspace, their
    personal workspace, and the own API key (decrypted) of each of those workspaces that has one."""
    roles: dict[int, str] = {}
    personal: int | None = None
    keys: dict[int, str] = {}
    for membership in membership_list_for_user(user=user):
        roles[membership.workspace_id] = membership.role
        if membership.workspace.personal_for_id == user.pk:
            personal = membership.workspace_id
        if membership.workspace.api_key_encrypted:
            keys[membership.workspace_id] = membership.workspace.api_key()
    return roles, personal, keys
