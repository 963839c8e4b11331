"""The message tree of a conversation, as pure functions over already-loaded messages (no queries).

A message's ``parent`` is the one it follows; edits and regenerations add sibling branches, and
``Conversation.current_leaf`` remembers which branch is on screen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from playground.models import Conversation, Message


def children_by_parent(nodes: Iterable[Message]) -> dict[int | None, list[Message]]:
    """The tree as parent id → children, oldest first."""
    children: dict[int | None, list[Message]] = defaultdict(list)
    for node in sorted(nodes, key=lambda n: n.pk):
        children[node.parent_id].append(node)
    return children


def path_ids(nodes: Iterable[tuple[int, int | None]], leaf_id: int | None) -> list[int]:
    """The ids from the first message down to ``leaf_id``, given (id, parent id) pairs."""
    parents = dict(nodes)
    path: list[int] = []
    node = leaf_id
    while node is not None and node in parents and len(path) <= len(parents):
        path.append(node)
        node = parents[node]
    return path[::-1]


def leaf_of(conversation: Conversation, nodes: list[Message]) -> Message | None:
    """The leaf of the branch on screen: the remembered one, else the newest message."""
    by_id = {n.pk: n for n in nodes}
    if conversation.current_leaf_id in by_id:
        return by_id[conversation.current_leaf_id]
    return max(nodes, key=lambda n: n.pk, default=None)


def branch_of(conversation: Conversation, nodes: list[Message]) -> list[Message]:
    """The messages of the branch on screen, first to last."""
    leaf = leaf_of(conversation, nodes)
    by_id = {n.pk: n for n in nodes}
    ids = path_ids(((n.pk, n.parent_id) for n in nodes), leaf.pk if leaf else None)
    return [by_id[i] for i in ids]
