"""Share-link writes: create and revoke links (of a conversation or a comparison), fork a shared
conversation, set a conversation's or a comparison's visibility."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from playground.models import Comparison, Conversation, ShareLink, Visibility
from playground.selectors.comparisons import comparison_get_for_user
from playground.selectors.conversations import conversation_get_for_user
from playground.selectors.sharing import LinkHides, share_link_active
from playground.services.conversations import conversation_fork_from
from playground.tree import leaf_of


def _share_link_new(
    *,
    user: Any,
    target: dict[str, Any],
    expires_in: timedelta | None,
    hide_system_prompt: bool,
    hide_parameters: bool,
) -> ShareLink:
    """A new unguessable, read-only link to ``target`` (its conversation or its comparison)."""
    return ShareLink.objects.create(
        **target,
        token=secrets.token_urlsafe(24),
        created_by=user,
        expires_at=timezone.now() + expires_in if expires_in else None,
        hide_system_prompt=hide_system_prompt,
        hide_parameters=hide_parameters,
    )


@transaction.atomic
def share_link_create(
    *,
    user: Any,
    conversation_id: int,
    expires_in: timedelta | None = None,
    hide_system_prompt: bool = False,
    hide_parameters: bool = False,
) -> ShareLink:
    """A new read-only link to the conversation (needs the "share" permission on it)."""
    conversation = conversation_get_for_user(user=user, conversation_id=conversation_id, action="share")
    return _share_link_new(
        user=user,
        target={"conversation": conversation},
        expires_in=expires_in,
        hide_system_prompt=hide_system_prompt,
        hide_parameters=hide_parameters,
    )


@transaction.atomic
def comparison_share_link_create(
    *,
    user: Any,
    comparison_id: int,
    expires_in: timedelta | None = None,
    hide_system_prompt: bool = False,
    hide_parameters: bool = False,
) -> ShareLink:
    """A new read-only link to the comparison and its columns (needs the "share" permission on it)."""
    comparison = comparison_get_for_user(user=user, comparison_id=comparison_id, action="share")
    return _share_link_new(
        user=user,
        target={"comparison": comparison},
        expires_in=expires_in,
        hide_system_prompt=hide_system_prompt,
        hide_parameters=hide_parameters,
    )


@transaction.atomic
def share_link_revoke(*, user: Any, share_link_id: int) -> ShareLink:
    """Revoke a link at once (needs "share" on its conversation or comparison); ShareLink.DoesNotExist
    if unseen."""
    link = ShareLink.objects.select_for_update().get(pk=share_link_id)
    try:
        if link.comparison_id is not None:
            comparison_get_for_user(user=user, comparison_id=link.comparison_id, action="share")
        else:
            conversation_get_for_user(user=user, conversation_id=link.conversation_id, action="share")
    except (Conversation.DoesNotExist, Comparison.DoesNotExist):
        raise ShareLink.DoesNotExist("No such link.") from None
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link


@transaction.atomic
def conversation_fork_shared(*, user: Any, token: str, workspace_id: int | None = None) -> Conversation:
    """Fork the branch a share link shows into the user's (current) workspace, as a private conversation.

    What the link hides (system prompt and "system" messages, parameters) is not copied either.
    """
    link = share_link_active(token=token)
    source = link.conversation
    if source is None:  # a comparison's link: its columns are not forked from it
        raise ShareLink.DoesNotExist("No such link.")
    leaf = leaf_of(source, list(source.messages.only("pk", "parent_id", "position")))
    if leaf is None:
        raise ValidationError("This conversation has no messages to fork yet.")
    return conversation_fork_from(
        source=source,
        user=user,
        message_id=leaf.pk,
        workspace_id=workspace_id,
        hides=LinkHides.of(link),
    )


@transaction.atomic
def conversation_set_visibility(*, user: Any, conversation_id: int, visibility: str) -> Conversation:
    """Make a conversation private or shared with its workspace (its owner, an editor or owner there)."""
    if visibility not in Visibility.values:
        raise ValidationError(f"visibility must be one of {', '.join(Visibility.values)}.")
    conversation = conversation_get_for_user(
        user=user, conversation_id=conversation_id, action="set_visibility", for_update=True
    )
    conversation.visibility = visibility
    Conversation.objects.filter(pk=conversation.pk).update(visibility=visibility)
    return conversation


@transaction.atomic
def comparison_set_visibility(*, user: Any, comparison_id: int, visibility: str) -> Comparison:
    """Make a comparison private or shared with its workspace (its owner, an editor or owner there)."""
    if visibility not in Visibility.values:
        raise ValidationError(f"visibility must be one of {', '.join(Visibility.values)}.")
    comparison = comparison_get_for_user(
        user=user, comparison_id=comparison_id, action="set_visibility", for_update=True
    )
    comparison.visibility = visibility
    Comparison.objects.filter(pk=comparison.pk).update(visibility=visibility)
    return comparison
