"""Workspace writes: create, settings (name, the encrypted API key), invitations, joining, roles.

Each checks the acting user's role through the selectors (playground/permissions.py) and is one
transaction. A workspace always keeps at least one owner.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from playground.crypto import encrypt
from playground.models import Invitation, Membership, Role, Workspace
from playground.selectors.workspaces import invitation_state, workspace_get_for_user
from playground.services.access import access_changed

NAME_LENGTH = 120
API_KEY_LENGTH = 500
PERSONAL_NO_INVITATIONS = (
    "A personal workspace is yours alone and takes no invitations: "
    "create a team workspace to work with others."
)


class InvitationGone(PermissionDenied):
    """An invitation that has expired or was revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This invitation {'has expired' if reason == 'expired' else 'was revoked'}.")
        self.reason = reason


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())[:NAME_LENGTH]
    if not name:
        raise ValidationError("A workspace needs a name.")
    return name


@transaction.atomic
def workspace_create(*, user: Any, name: str) -> Workspace:
    """A new team workspace with ``user`` as its owner."""
    name = _clean_name(name)
    slug = f"{slugify(name)[:100] or 'team'}-{secrets.token_hex(4)}"
    workspace = Workspace.objects.create(name=name, slug=slug)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    return workspace


@transaction.atomic
def workspace_update(
    *, user: Any, workspace_id: int, name: str | None = None, api_key: str | None = None
) -> Workspace:
    """Rename the workspace and/or set its Fireworks API key ("" removes it); owners only.

    The key is stored encrypted; only its last four characters are kept in the clear, for the mask.
    """
    workspace, _ = workspace_get_for_user(user=user, workspace_id=workspace_id, action="manage_settings")
    if name is not None:
        workspace.name = _clean_name(name)
    if api_key is not None:
        api_key = api_key.strip()
        if len(api_key) > API_KEY_LENGTH or any(c.isspace() for c in api_key):
            raise ValidationError("That does not look like an API key.")
        workspace.api_key_encrypted = encrypt(api_key) if api_key else ""
        workspace.api_key_last4 = api_key[-4:] if api_key else ""
        access_changed(workspaces=[workspace.pk])  # sockets forget the old key
    workspace.save()
    return workspace


@transaction.atomic
def invitation_create(
    *, user: Any, workspace_id: int, role: str, expires_in: timedelta | None = None
) -> Invitation:
    """An invitation link for the workspace (owners only); anyone signed in who opens it joins as ``role``.

    A personal workspace takes no invitations: it has nobody to share with (make a team instead).
    """
    workspace, _ = workspace_get_for_user(user=user, workspace_id=workspace_id, action="manage_members")
    if workspace.personal_for_id is not None:
        raise ValidationError(PERSONAL_NO_INVITATIONS)
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}.")
    return Invitation.objects.create(
        workspace_id=workspace_id,
        token=secrets.token_urlsafe(24),
        role=role,
        created_by=user,
        expires_at=timezone.now() + expires_in if expires_in else None,
    )


@transaction.atomic
def invitation_revoke(*, user: Any, invitation_id: int) -> Invitation:
    """Revoke an invitation (owners of its workspace only); links already used keep their members."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    workspace_get_for_user(user=user, workspace_id=invitation.workspace_id, action="manage_members")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


@transaction.atomic
def invitation_accept(*, user: Any, token: str) -> Membership:
    """Join the invitation's workspace with its role; a member already keeps their role.

    Raises Invitation.DoesNotExist for an unknown token and InvitationGone when expired or revoked.
    """
    invitation = Invitation.objects.select_for_update().select_related("workspace").get(token=token)
    state = invitation_state(invitation)
    if state != "active":
        raise InvitationGone(state)
    if invitation.workspace.personal_for_id is not None:  # one made before personal workspaces refused them
        raise ValidationError(PERSONAL_NO_INVITATIONS)
    membership, created = Membership.objects.get_or_create(
        workspace_id=invitation.workspace_id, user=user, defaults={"role": invitation.role}
    )
    if created:
        invitation.uses += 1
        invitation.save(update_fields=["uses"])
    return membership


def _member_for_owner(*, user: Any, membership_id: int) -> Membership:
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership_id)
    workspace_get_for_user(user=user, workspace_id=membership.workspace_id, action="manage_members")
    return membership


def _other_owners(membership: Membership) -> bool:
    owners = Membership.objects.filter(workspace_id=membership.workspace_id, role=Role.OWNER)
    return owners.exclude(pk=membership.pk).exists()


@transaction.atomic
def membership_set_role(*, user: Any, membership_id: int, role: str) -> Membership:
    """Change a member's role (owners only); the last owner cannot stop being one."""
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}.")
    membership = _member_for_owner(user=user, membership_id=membership_id)
    if membership.role == Role.OWNER and role != Role.OWNER and not _other_owners(membership):
        raise ValidationError("A workspace needs an owner: make someone else an owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    access_changed(workspaces=[membership.workspace_id])
    return membership


@transaction.atomic
def membership_remove(*, user: Any, membership_id: int) -> None:
    """Remove a member (owners only); never the last owner, and never anyone from a personal workspace's
    owner."""
    membership = _member_for_owner(user=user, membership_id=membership_id)
    if membership.role == Role.OWNER and not _other_owners(membership):
        raise ValidationError("The last owner of a workspace cannot be removed.")
    if membership.workspace.personal_for_id == membership.user_id:
        raise ValidationError("A personal workspace always keeps its owner.")
    membership.delete()
    access_changed(workspaces=[membership.workspace_id])
