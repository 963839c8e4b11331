"""Who may do what: the one policy for workspaces, conversations, comparisons, presets and share links.

Pure Python, no queries: ``can(role, action, facts)`` decides from the user's role in the object's
workspace (None for anonymous users and non-members) and a few facts about the object. The selectors
filter their querysets with the same rules (``visible_q``) and check an action with ``can``; views
and the websocket never decide on their own. Someone who may not even view an object gets a 404 (its
existence is not revealed); someone who may view it but not act on it gets a 403.
"""

from __future__ import annotations

from dataclasses import dataclass

OWNER, EDITOR, VIEWER = "owner", "editor", "viewer"
ROLES = (OWNER, EDITOR, VIEWER)
WRITERS = (OWNER, EDITOR)

ACTIONS = (
    "view",  # read the conversation or preset (also: export, open its runs)
    "watch",  # see its streams live
    "run",  # chat.start on it (which also saves its settings and messages)
    "edit",  # rename, switch the branch on screen, update a preset
    "set_visibility",  # make it private or shared with the workspace
    "delete",
    "share",  # create and revoke share links
    "fork",  # copy it (fork, duplicate) into one's own workspace
    "create",  # make new conversations or presets in the workspace
    "manage_members",  # invitations, roles, removing members
    "manage_settings",  # the workspace's name and API key
)


@dataclass(frozen=True)
class Facts:
    """What the policy needs to know about the object, besides the user's role in its workspace.

    ``shared``: the object is visible to the whole workspace (a conversation's or a comparison's
    visibility "workspace", a preset's scope "workspace"); ``mine``: the user made it; ``share_link``:
    the user came with a valid share link for this conversation or comparison (read-only access for
    anyone, signed in or not). A comparison follows the conversation rules.
    A workspace itself (members, settings, creating in it) is ``Facts()``.
    """

    shared: bool = False
    mine: bool = False
    share_link: bool = False
    signed_in: bool = False


WORKSPACE = Facts()


def scoped(role: str | None, *, mine: bool, personal: bool) -> tuple[str | None, Facts]:
    """The role and facts for an object with a scope (a preset, a saved prompt): a personal one is its
    author's alone, whatever their role where it was made (so "owner" for them); a workspace one is in
    that workspace's library, decided by the member's ``role`` there."""
    return ("owner" if mine and personal else role), Facts(shared=not personal, mine=mine, signed_in=True)


def can(role: str | None, action: str, facts: Facts = WORKSPACE) -> bool:
    """Whether a user with ``role`` in the object's workspace (None: not a member) may do ``action``."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}.")
    if action in ("manage_members", "manage_settings"):
        return role == OWNER
    if action == "create":
        return role in WRITERS
    member_sees = role in ROLES and (facts.mine or facts.shared)
    if action in ("view", "watch"):
        return member_sees or facts.share_link
    if action == "fork":
        # A copy goes to the user's own workspace, so reading is enough (and being signed in).
        return (member_sees or facts.share_link) and (facts.signed_in or role is not None)
    if not member_sees:
        return False
    if action in ("run", "edit", "share"):
        return role in WRITERS
    if action == "set_visibility":
        return role in WRITERS and facts.mine
    if action == "delete":
        return role == OWNER or (role == EDITOR and facts.mine)
    return False  # pragma: no cover - every action is handled above
