"""Share links: who may read a conversation or a comparison through one, and what the shared page shows.

``conversation_for_viewer`` is the one door for reading a conversation either as a member or with a
share link (the shared page, live watching); a comparison's viewers (members, or holders of the
comparison's link) read and watch its columns' conversations through it too.
``comparison_for_viewer`` is the same door for a comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone

from playground.models import Comparison, Conversation, ShareLink
from playground.pricing.selectors import timings_cost
from playground.selectors.comparisons import (
    comparison_conversation_ids,
    comparison_data,
    comparison_get_for_user,
)
from playground.selectors.conversations import conversation_get_for_user
from playground.tree import branch_of

M = TypeVar("M")


@dataclass(frozen=True)
class LinkHides:
    """What a share link hides, applied in one place to every path a viewer reads through it: the shared
    page, a comparison's shared page and a fork (the forker's page and data JSON then have nothing to
    show). ``system_prompt``: the conversation's (or comparison's) system prompt and every "system"
    message. ``parameters``: the parameters, extra fields, and each run's sampling and requested options
    (and a comparison's sweep and column labels, which name parameter values)."""

    system_prompt: bool = False
    parameters: bool = False

    @classmethod
    def of(cls, link: ShareLink | None) -> LinkHides:
        """What ``link`` hides (nothing for a member, who reads with no link)."""
        if link is None:
            return cls()
        return cls(system_prompt=link.hide_system_prompt, parameters=link.hide_parameters)

    def keeps_role(self, role: str) -> bool:
        """Whether a message of this role may be shown (or copied)."""
        return not (self.system_prompt and role == "system")

    def messages(self, messages: Iterable[M]) -> list[M]:
        """The messages (model instances or ``{"role": …}`` dicts) without the hidden ones."""
        return [
            m
            for m in messages
            if self.keeps_role(m.get("role", "") if isinstance(m, dict) else getattr(m, "role", ""))
        ]

    def settings(self, *, system_prompt: str, params: Any, extra: Any) -> dict[str, Any]:
        """A conversation's settings as a viewer (or a fork) may have them: hidden ones emptied."""
        return {
            "system_prompt": "" if self.system_prompt else system_prompt,
            "params": {} if self.parameters else params,
            "extra": {} if self.parameters else extra,
        }

    def run(self, run: dict[str, Any]) -> dict[str, Any]:
        """A run's replay data without the hidden options."""
        if not self.parameters:
            return run
        return {**run, "sampling_options": None, "requested_options": {}}

    def comparison(self, data: dict[str, Any]) -> dict[str, Any]:
        """A comparison's data (``comparison_data``) without what is hidden, its columns' runs too."""
        data = dict(data)
        if self.system_prompt:
            data["system_prompt"] = ""
        data["messages"] = self.messages(data.get("messages") or [])
        if self.parameters:
            data["sweep"] = None
        columns = []
        for index, column in enumerate(data.get("columns") or []):
            run = column.get("data")
            columns.append(
                {
                    # A sweep's labels are its values ("temperature=0.7"): hidden with the parameters.
                    "label": f"Column {index + 1}" if self.parameters else column.get("label") or "",
                    "model": column.get("model") or "",
                    "params": {} if self.parameters else column.get("params") or {},
                    "conversation": column.get("conversation"),
                    "run": column.get("run"),
                    "data": None if run is None else self.run(run),
                }
            )
        data["columns"] = columns
        return data


class ShareLinkGone(PermissionDenied):
    """A share link that existed but has expired or was revoked (the page says which: HTTP 410)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This link {'has expired' if reason == 'expired' else 'was revoked'}.")
        self.reason = reason


def share_link_state(link: ShareLink) -> str:
    """ "active", "expired" or "revoked"."""
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and link.expires_at <= timezone.now():
        return "expired"
    return "active"


def share_link_active(*, token: str) -> ShareLink:
    """The link with this token, if it can be used; ShareLink.DoesNotExist for an unknown token,
    ShareLinkGone for an expired or revoked one."""
    if not token:
        raise ShareLink.DoesNotExist("No such link.")
    link = ShareLink.objects.select_related("conversation", "comparison").get(token=token)
    state = share_link_state(link)
    if state != "active":
        raise ShareLinkGone(state)
    return link


def share_link_list(
    *, conversation: Conversation | None = None, comparison: Comparison | None = None
) -> QuerySet[ShareLink]:
    """A conversation's or a comparison's share links, newest first (revoked and expired ones too)."""
    target = conversation if conversation is not None else comparison
    assert target is not None
    return target.share_links.select_related("created_by")


def comparison_for_viewer(
    *, user: Any = None, comparison_id: int | None = None, share_token: str | None = None
) -> Comparison:
    """The comparison a member may view, or that a valid share link of it opens (read-only).

    As ``conversation_for_viewer``: the member's own access first, else the link (which must be the
    comparison's). ``via_share_link`` is the link used (None for a member). Raises
    Comparison.DoesNotExist or ShareLinkGone.
    """
    if comparison_id is not None and getattr(user, "is_authenticated", False):
        try:
            comparison = comparison_get_for_user(user=user, comparison_id=comparison_id, action="watch")
        except Comparison.DoesNotExist:
            if not share_token:
                raise
        else:
            comparison.via_share_link = None
            return comparison
    try:
        link = share_link_active(token=share_token or "")
    except ShareLink.DoesNotExist:
        raise Comparison.DoesNotExist("No such comparison.") from None
    if link.comparison is None or (comparison_id is not None and link.comparison_id != comparison_id):
        raise Comparison.DoesNotExist("No such comparison.")
    comparison = link.comparison
    comparison.via_share_link = link
    return comparison


def conversation_for_viewer(
    *,
    user: Any = None,
    conversation_id: int | None = None,
    share_token: str | None = None,
    comparison_id: int | None = None,
) -> Conversation:
    """The conversation a member may view, or that a valid share link opens (read-only).

    A signed-in member's own access comes first (``conversation_id``); then, with ``comparison_id``,
    their access to a comparison one of whose columns is this conversation; else the share link's
    token (if ``conversation_id`` is given too, the link must be for that conversation, or for a
    comparison with a column in it). The result's
    ``via_share_link`` is the ShareLink used (None for a member), whose ``hide_system_prompt`` and
    ``hide_parameters`` say what the viewer must not be sent. Raises Conversation.DoesNotExist (no
    access, unknown token) or ShareLinkGone, a PermissionDenied (expired or revoked link).
    """
    if conversation_id is not None and getattr(user, "is_authenticated", False):
        try:
            conversation = conversation_get_for_user(
                user=user, conversation_id=conversation_id, action="watch"
            )
        except Conversation.DoesNotExist:
            if not share_token and comparison_id is None:
                raise
        else:
            conversation.via_share_link = None
            return conversation
        if comparison_id is not None:
            try:
                comparison = comparison_get_for_user(user=user, comparison_id=comparison_id, action="watch")
            except Comparison.DoesNotExist:
                pass
            else:
                if conversation_id in comparison_conversation_ids(comparison):
                    conversation = Conversation.objects.get(pk=conversation_id)
                    conversation.via_share_link = None
                    return conversation
            if not share_token:
                raise Conversation.DoesNotExist("No such conversation.")
    try:
        link = share_link_active(token=share_token or "")
    except ShareLink.DoesNotExist:
        raise Conversation.DoesNotExist("No such conversation.") from None
    if link.comparison is not None:
        # A comparison's link opens its columns' conversations, for watching them (never one alone).
        if conversation_id is None or conversation_id not in comparison_conversation_ids(link.comparison):
            raise Conversation.DoesNotExist("No such conversation.")
        conversation = Conversation.objects.get(pk=conversation_id)
        conversation.via_share_link = link
        return conversation
    if conversation_id is not None and link.conversation_id != conversation_id:
        raise Conversation.DoesNotExist("No such conversation.")
    conversation = link.conversation
    conversation.via_share_link = link
    return conversation


def shared_page_data(*, link: ShareLink) -> dict[str, Any]:
    """What ``/s/<token>/`` shows: the branch on screen, each reply's run metrics and options, minus
    what the link hides (the system prompt, the parameters and effective sampling options)."""
    conversation = link.conversation
    nodes = list(conversation.messages.order_by("pk"))
    runs = {
        r.message_id: r
        for r in conversation.runs.filter(message__isnull=False).select_related("started_by").order_by("pk")
    }
    hides = LinkHides.of(link)
    turns = []
    for message in hides.messages(branch_of(conversation, nodes)):
        run = runs.get(message.pk)
        metrics = None
        if run is not None:
            metrics = {
                "status": run.status,
                "model": run.response_model or run.model,
                "usage": run.usage or {},
                "ttft_ms": (run.timings or {}).get("ttft_ms"),
                # The figure as the stream computed it (proxy.relay.figures): one formula everywhere.
                "tokens_per_second": (run.timings or {}).get("tokens_per_second"),
                # Its saved cost (playground/pricing), None without a price or usage.
                "cost": timings_cost(run.timings),
                "started_by": run.started_by.get_username() if run.started_by else None,
                "options": None if hides.parameters else sorted((run.sampling_options or {}).items()),
            }
        turns.append({"message": message, "run": metrics})
    shown = hides.settings(
        system_prompt=conversation.system_prompt, params=conversation.params, extra=conversation.extra
    )
    return {
        "conversation": conversation,
        "title": str(conversation),
        "model": conversation.model,
        "system_prompt": shown["system_prompt"] or None,
        "params": sorted(shown["params"].items()) or None,
        "turns": turns,
    }


def comparison_shared_page_data(*, link: ShareLink) -> dict[str, Any]:
    """What ``/s/<token>/`` shows for a comparison's link: every column side by side with its run's
    reply, metrics and effective options, minus what the link hides (the system prompt, the parameters
    and sampling options); the columns' conversation ids let the page watch them live."""
    comparison = link.comparison
    assert comparison is not None
    data = LinkHides.of(link).comparison(comparison_data(comparison))
    data["hide_parameters"] = link.hide_parameters
    return {"comparison": comparison, "title": str(comparison), "page": data}
