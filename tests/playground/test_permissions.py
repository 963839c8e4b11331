"""Who may do what, the policy on its own (playground/permissions.py): pure, no database."""

from __future__ import annotations

import pytest

from playground.permissions import ACTIONS, EDITOR, OWNER, ROLES, VIEWER, Facts, can, scoped

MINE = Facts(mine=True)
SHARED = Facts(shared=True)
PRIVATE = Facts()  # someone else's, not shared with the workspace
LINK = Facts(share_link=True)


def test_only_owners_manage_and_only_writers_create() -> None:
    for action in ("manage_members", "manage_settings"):
        assert [r for r in (*ROLES, None) if can(r, action)] == [OWNER]
    assert [r for r in (*ROLES, None) if can(r, "create")] == [OWNER, EDITOR]


@pytest.mark.parametrize("role", ROLES)
def test_members_see_what_is_theirs_or_shared_never_someone_elses_private(role: str) -> None:
    for action in ("view", "watch", "fork"):
        assert can(role, action, MINE) and can(role, action, SHARED)
    for action in ACTIONS:
        if action not in ("manage_members", "manage_settings", "create"):
            assert not can(role, action, PRIVATE), action


def test_what_each_role_may_do_with_a_shared_object_and_its_own() -> None:
    assert [r for r in ROLES if can(r, "run", SHARED)] == [OWNER, EDITOR]
    assert [r for r in ROLES if can(r, "edit", SHARED)] == [OWNER, EDITOR]
    assert [r for r in ROLES if can(r, "share", SHARED)] == [OWNER, EDITOR]
    # Visibility is the author's alone (and only a writer's); deleting is the owner's or the author's.
    assert [r for r in ROLES if can(r, "set_visibility", SHARED)] == []
    assert [r for r in ROLES if can(r, "set_visibility", MINE)] == [OWNER, EDITOR]
    assert [r for r in ROLES if can(r, "delete", SHARED)] == [OWNER]
    assert [r for r in ROLES if can(r, "delete", MINE)] == [OWNER, EDITOR]
    assert not can(VIEWER, "run", MINE) and not can(VIEWER, "delete", MINE)


def test_a_share_link_reads_and_forks_when_signed_in_and_nothing_else() -> None:
    assert can(None, "view", LINK) and can(None, "watch", LINK)
    assert not can(None, "fork", LINK)
    assert can(None, "fork", Facts(share_link=True, signed_in=True))
    for action in ("run", "edit", "share", "set_visibility", "delete"):
        assert not can(None, action, LINK), action
        assert not can(None, action, Facts(share_link=True, signed_in=True)), action


def test_strangers_get_nothing() -> None:
    for facts in (MINE, SHARED, PRIVATE):
        assert not any(can(None, action, facts) for action in ACTIONS)


def test_an_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="Unknown action 'publish'"):
        can(OWNER, "publish")


@pytest.mark.parametrize("role", [*ROLES, None])
def test_a_scoped_object_is_its_authors_when_personal_and_the_librarys_when_shared(role: str | None) -> None:
    """Presets and saved prompts: a personal one is its author's whatever their role where it was made
    (a viewer edits their own); someone else's personal one is nobody else's; a workspace one follows
    the member's role there."""
    author, facts = scoped(role, mine=True, personal=True)
    assert (author, facts) == (OWNER, Facts(shared=False, mine=True, signed_in=True))
    assert can(author, "edit", facts) and can(author, "delete", facts)
    other, private = scoped(role, mine=False, personal=True)
    assert not any(can(other, action, private) for action in ("view", "edit", "delete"))
    member, shared = scoped(role, mine=False, personal=False)
    assert member == role and shared.shared
    assert can(member, "view", shared) == (role is not None)
    assert can(member, "edit", shared) == (role in (OWNER, EDITOR))
    assert can(member, "delete", shared) == (role == OWNER)
