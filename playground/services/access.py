"""Telling the live sockets that access changed, so that watches end as soon as access does.

A write that narrows who may see something (a share link revoked, a member removed or given a lower role,
a conversation or comparison made private, a conversation deleted), or changes what a socket keeps to
start streams without a query (a workspace's key or prices, ``proxy/access.py``), calls
``access_changed`` in its transaction. Once it commits, each affected channel-layer group gets one
``access.changed`` message; every socket watching there checks its watches again and ends those no longer
allowed (``proxy/watch.py``). With Redis this crosses processes; without a channel layer it does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def access_group(kind: str, pk: int) -> str:
    """The group of the sockets watching through a conversation, comparison or workspace."""
    return f"access.{kind}.{pk}"


def access_changed(
    *,
    conversations: Iterable[int] = (),
    comparisons: Iterable[int] = (),
    workspaces: Iterable[int] = (),
) -> None:
    """After the current transaction commits, ask the watchers of these to check their access again."""
    groups = [
        *(access_group("conversation", pk) for pk in conversations),
        *(access_group("comparison", pk) for pk in comparisons),
        *(access_group("workspace", pk) for pk in workspaces),
    ]
    if groups:
        transaction.on_commit(lambda: _notify(groups))


def _notify(groups: list[str]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, {"type": "access.changed", "group": group})
        except Exception as exc:  # the change is saved; only its live effect is late (next watch check)
            logger.warning("Could not tell the watchers of %s that access changed: %r", group, exc)
