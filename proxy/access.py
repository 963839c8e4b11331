"""Who may start which stream with which key, known to the socket: nothing between a ``chat.start`` and its
upstream request touches the database in the common case.

Read once when the socket connects (the user's roles, personal workspace, and its workspaces' own keys
and prices) and learnt as streams open (each conversation's workspace, owner and visibility). The
permission policy is ``playground.permissions.can``, as everywhere. Whatever the socket does not know (a
conversation it has not run yet, a workspace it has not seen) is read from the database as before, never
guessed. Any ``access.changed`` message for a group the socket is in (``playground/services/access.py``:
roles, removals, keys, prices, visibility) drops what it knows, to be read again on the next
``chat.start``; and ``run_start`` checks again in its transaction, so a change in flight is refused
there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied

from playground.models import Conversation
from playground.permissions import Facts, can
from playground.pricing.selectors import workspace_prices
from playground.selectors.workspaces import run_access, run_access_facts
from playground.services.access import access_group
from proxy.pricing import Price
from proxy.stream import read

KnownAccess = tuple[dict[int, str], int | None, dict[int, str], dict[int, dict[str, Price]]]


def access_facts(*, user: Any) -> KnownAccess:
    """What a socket reads at connect: ``run_access_facts`` and the prices of those workspaces."""
    roles, personal, keys = run_access_facts(user=user)
    return roles, personal, keys, workspace_prices(workspace_ids=roles)


@dataclass(frozen=True)
class ConversationFacts:
    """What the policy needs of a conversation the socket has run."""

    workspace_id: int
    owner_id: int
    shared: bool


@dataclass
class SocketAccess:
    """One socket's knowledge of its user's access (see the module's docstring)."""

    user: Any
    roles: dict[int, str] = field(default_factory=dict)
    personal: int | None = None
    keys: dict[int, str] = field(default_factory=dict)
    prices: dict[int, dict[str, Price]] = field(default_factory=dict)
    conversations: dict[int, ConversationFacts] = field(default_factory=dict)
    loaded: bool = False

    async def load(self) -> None:
        """Read the user's roles, keys and prices (at connect, and after a change)."""
        self.roles, self.personal, self.keys, self.prices = await read(access_facts)(user=self.user)
        self.conversations.clear()
        self.loaded = True

    def forget(self) -> None:
        """Access changed somewhere: read it all again before the next stream."""
        self.loaded = False
        self.conversations.clear()

    def groups(self) -> set[str]:
        """The access groups whose changes this knowledge depends on."""
        groups = {access_group("workspace", pk) for pk in self.roles}
        groups |= {access_group("conversation", pk) for pk in self.conversations}
        return groups

    def learn(self, conversation: Any) -> None:
        """Keep a conversation's facts, from the run just opened on it."""
        self.conversations[conversation.pk] = ConversationFacts(
            workspace_id=conversation.workspace_id,
            owner_id=conversation.owner_id,
            shared=conversation.visibility == "workspace",
        )

    def known(self, *, conversation_id: int | None, workspace_id: int | None) -> str | None:
        """The key to use when the socket's knowledge decides (raising as ``run_access`` would when
        the user may not), or None when it does not know enough and the database must be asked."""
        if not self.loaded:
            return None
        if conversation_id is None:
            target = workspace_id if workspace_id is not None else self.personal
            if target is None or target not in self.roles:
                return None
            if workspace_id is not None and not can(self.roles[target], "create"):
                raise PermissionDenied(f"Your role ({self.roles[target]}) cannot do that in this workspace.")
            return self.keys.get(target, "")
        facts = self.conversations.get(conversation_id)
        if facts is None or facts.workspace_id not in self.roles:
            return None
        role = self.roles[facts.workspace_id]
        policy = Facts(shared=facts.shared, mine=facts.owner_id == self.user.pk, signed_in=True)
        if not can(role, "view", policy):
            raise Conversation.DoesNotExist("No such conversation.")
        if not can(role, "run", policy):
            raise PermissionDenied(f"Your role ({role}) cannot run this conversation.")
        return self.keys.get(facts.workspace_id, "")

    def workspace_prices(self, workspace_id: int) -> Mapping[str, Price] | None:
        """The workspace's own prices (for ``price_from``), or None when the socket does not know them.

        Called from the run's opening, on a database thread: one lookup in a dict that ``load`` replaces
        whole (never changes in place), after the stream's access check has loaded it if it had to."""
        return self.prices.get(workspace_id) if self.loaded else None

    async def check(self, *, conversation_id: int | None, workspace_id: int | None) -> str:
        """The key for a stream, or the refusal (Conversation/Workspace.DoesNotExist, PermissionDenied)."""
        key = self.known(conversation_id=conversation_id, workspace_id=workspace_id)
        if key is not None:
            return key
        return await read(run_access)(
            user=self.user, conversation_id=conversation_id, workspace_id=workspace_id
        )
