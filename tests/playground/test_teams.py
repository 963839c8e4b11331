"""Workspaces and sharing: the permission matrix (every action by every kind of user, through the real
views and websockets), invitations, share links (expiry, revocation, hide options, fork) and the
workspace's own API key (encrypted at rest, masked, used upstream, never shown)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone

from playground.asgi import application
from playground.models import Conversation, Invitation, Membership, Preset, Role, ShareLink, Visibility
from playground.services import runs, sharing, workspaces
from tests.proxy.conftest import API_KEY, MODEL, ORIGIN, Socket

WORKSPACE_KEY = "fw_WORKSPACESECRET9876wxyz"
ACTIONS = ("view", "run", "edit", "delete", "share", "fork", "manage_members", "manage_settings", "watch")
OK, FORBIDDEN, NOT_FOUND, LOGIN = "ok", "forbidden", "not_found", "login"
# Who may do what (playground/README.md, "Teams and sharing"). "link" is an anonymous share-link
# holder, "link_user" a signed-in member of another workspace holding the link. Anonymous users are
# sent to the login page for any member URL (whether or not it exists) and their chat socket is refused.
MATRIX: dict[str, tuple[str, ...]] = {
    #            view       run        edit       delete     share      fork       members    settings   watch
    "owner": (OK, OK, OK, OK, OK, OK, OK, OK, OK),
    "editor": (OK, OK, OK, FORBIDDEN, OK, OK, FORBIDDEN, FORBIDDEN, OK),
    "viewer": (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, OK),
    "outsider": (NOT_FOUND,) * 9,
    "anonymous": (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, NOT_FOUND),
    "link": (OK, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, OK),
    "link_user": (OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, OK),
}
CASES = [(who, action, MATRIX[who][i]) for who in MATRIX for i, action in enumerate(ACTIONS)]
HTTP_CASES = [c for c in CASES if c[1] not in ("run", "watch")]
SOCKET_CASES = [c for c in CASES if c[1] in ("run", "watch")]


def make_user(name: str) -> Any:
    return get_user_model().objects.create_user(name)  # no password: force_login, and fast


def converse(
    user: Any, text: str, *, workspace_id: int | None = None, conversation_id: int | None = None
) -> Any:
    """One saved exchange, as the consumer makes it."""
    run = runs.run_start(
        user=user,
        conversation_id=conversation_id,
        mode="chat",
        model=MODEL,
        messages=[{"role": "user", "content": text}],
        prompt=None,
        params={"temperature": 0.3},
        extra={},
        request={"model": MODEL, "messages": [{"role": "user", "content": text}], "temperature": 0.3},
        system_prompt="You are terse.",
        workspace_id=workspace_id,
    )
    runs.run_finish(
        run_id=run.pk,
        status="done",
        opened={
            "request_id": "r1",
            "headers": {},
            "sampling_options": {"temperature": 0.3},
            "rate_limits": {},
        },
        output=[{"content": "Sure thing."}],
        usage={"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
        perf=None,
        timings={"ttft_ms": 100.0, "total_ms": 1100.0, "chunks": 20, "tokens": 20, "tokens_per_second": 19.0},
        timeline=[],
        error=None,
        response_model=MODEL,
        finish_reasons={0: "stop"},
    )
    run.refresh_from_db()
    return run


def make_world() -> dict[str, Any]:
    """A team (owner olive, editors eddie and ann, viewer vera), an outsider otto, and a conversation of
    ann's shared with the team, with one reply and a share link."""
    users = {name: make_user(name) for name in ("olive", "eddie", "ann", "vera", "otto")}
    team = workspaces.workspace_create(user=users["olive"], name="Team")
    for name, role in (("eddie", Role.EDITOR), ("ann", Role.EDITOR), ("vera", Role.VIEWER)):
        Membership.objects.create(workspace=team, user=users[name], role=role)
    run = converse(users["ann"], "Hello team", workspace_id=team.pk)
    conversation = run.conversation
    sharing.conversation_set_visibility(
        user=users["ann"], conversation_id=conversation.pk, visibility=Visibility.WORKSPACE
    )
    link = sharing.share_link_create(user=users["ann"], conversation_id=conversation.pk)
    return {"users": users, "team": team, "conversation": conversation, "run": run, "link": link}


def client_for(world: dict[str, Any], who: str) -> Client:
    client = Client()
    user = {
        "owner": "olive",
        "editor": "eddie",
        "viewer": "vera",
        "outsider": "otto",
        "link_user": "otto",
    }.get(who)
    if user:
        client.force_login(world["users"][user])
    return client


def outcome(response: Any) -> str:
    if response.status_code in (200, 302) and "/accounts/login/" in response.get("Location", ""):
        return LOGIN
    return {200: OK, 302: OK, 403: FORBIDDEN, 404: NOT_FOUND}.get(
        response.status_code, str(response.status_code)
    )


def do_http(world: dict[str, Any], who: str, action: str) -> Any:
    client = client_for(world, who)
    c, team, token = world["conversation"], world["team"], world["link"].token
    by_link = who in ("link", "link_user")
    if action == "view":
        return client.get(f"/s/{token}/" if by_link else f"/c/{c.pk}/")
    if action == "edit":
        return client.post(f"/c/{c.pk}/rename/", {"title": "Renamed"})
    if action == "delete":
        return client.post(f"/c/{c.pk}/delete/")
    if action == "share":
        return client.post(f"/c/{c.pk}/share/new/", {"expires_in_days": ""})
    if action == "fork":
        if by_link:
            return client.post(f"/s/{token}/fork/")
        return client.post(f"/c/{c.pk}/fork/", {"message": world["run"].message_id})
    if action == "manage_members":
        return client.post(f"/workspaces/{team.pk}/invitations/", {"role": "viewer", "expires_in_days": "7"})
    if action == "manage_settings":
        return client.post(f"/workspaces/{team.pk}/update/", {"name": "Renamed team"})
    raise AssertionError(action)


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "action", "expected"), HTTP_CASES)
def test_permission_matrix_views(who: str, action: str, expected: str) -> None:
    world = make_world()
    c = world["conversation"]
    response = do_http(world, who, action)
    assert outcome(response) == expected, (who, action, response.status_code, response.get("Location"))
    c_now = Conversation.objects.filter(pk=c.pk).first()
    # Nothing changes unless allowed.
    if action == "edit":
        assert (c_now.title == "Renamed") is (expected == OK)
    if action == "delete":
        assert (c_now is None) is (expected == OK)
    if action == "share":
        assert ShareLink.objects.filter(conversation=c).count() == (2 if expected == OK else 1)
    if action == "fork":
        forks = Conversation.objects.filter(forked_from=c)
        assert forks.count() == (1 if expected == OK else 0)
        if expected == OK:
            assert forks.get().visibility == Visibility.PRIVATE
    if action == "manage_members":
        assert Invitation.objects.filter(workspace=world["team"]).count() == (1 if expected == OK else 0)
    if action == "manage_settings":
        world["team"].refresh_from_db()
        assert (world["team"].name == "Renamed team") is (expected == OK)


async def open_socket(path: str, cookie: bytes | None) -> WebsocketCommunicator:
    headers = [ORIGIN, (b"cookie", cookie)] if cookie else [ORIGIN]
    return WebsocketCommunicator(application, path, headers=headers)


def cookie_of(client: Client) -> bytes | None:
    return (
        f"sessionid={client.cookies['sessionid'].value}".encode() if "sessionid" in client.cookies else None
    )


async def do_socket(world: dict[str, Any], who: str, action: str) -> str:
    cookie = await database_sync_to_async(lambda: cookie_of(client_for(world, who)))()
    c, token = world["conversation"], world["link"].token
    by_link = who in ("link", "link_user")
    path = "/ws/watch/" if action == "watch" and (by_link or who == "anonymous") else "/ws/chat/"
    communicator = await open_socket(path, cookie)
    connected, _ = await communicator.connect()
    if not connected:
        return LOGIN
    ws = Socket(communicator)
    try:
        if action == "run":
            await ws.start("s1", conversation=c.pk, messages=[{"role": "user", "content": "More"}])
            frame = await ws.receive()
            if frame["type"] == "chat.started":
                await ws.until_end("s1")
                return OK
            return frame["code"]
        frame_in = {"type": "watch", "conversation": c.pk, **({"share": token} if by_link else {})}
        await ws.send(frame_in)
        frame = await ws.receive()
        return OK if frame["type"] == "watch.ok" else frame["code"]
    finally:
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("who", "action", "expected"), SOCKET_CASES)
@pytest.mark.usefixtures("close_upstream")
async def test_permission_matrix_websocket(
    who: str, action: str, expected: str, upstream_settings: Any, emulator: Any
) -> None:
    world = await database_sync_to_async(make_world)()
    assert await do_socket(world, who, action) == expected
    runs_now = await database_sync_to_async(lambda: world["conversation"].runs.count())()
    assert runs_now == (2 if action == "run" and expected == OK else 1)


@pytest.fixture
def upstream_settings(settings: Any, emulator: Any) -> Any:
    from django.core.cache import cache

    settings.FIREWORKS_BASE_URL = emulator.base_url
    settings.FIREWORKS_API_KEY = API_KEY
    cache.clear()
    return settings


# --- invitations and roles --------------------------------------------------------------------------


@pytest.mark.django_db
def test_invitation_join_role_change_and_the_last_owner() -> None:
    olive, bob = make_user("olive"), make_user("bob")
    owner = Client()
    owner.force_login(olive)
    team = workspaces.workspace_create(user=olive, name="Team")
    owner.post(f"/workspaces/{team.pk}/invitations/", {"role": "editor", "expires_in_days": "7"})
    invitation = Invitation.objects.get(workspace=team)
    assert len(invitation.token) >= 32
    page = owner.get(f"/workspaces/{team.pk}/").content.decode()
    assert f"/join/{invitation.token}/" in page

    guest = Client()
    assert outcome(guest.get(f"/join/{invitation.token}/")) == LOGIN
    guest.force_login(bob)
    assert 'data-testid="join-button"' in guest.get(f"/join/{invitation.token}/").content.decode()
    assert guest.post(f"/join/{invitation.token}/").status_code == 302
    membership = Membership.objects.get(workspace=team, user=bob)
    assert membership.role == Role.EDITOR
    # Joining switched bob to the team: new conversations go there.
    assert guest.session["workspace_id"] == team.pk
    assert guest.get("/join/not-a-token/").status_code == 404

    # Roles: the owner makes bob a viewer, then an owner; the last owner cannot step down or be removed.
    owner.post(f"/workspaces/{team.pk}/members/{membership.pk}/role/", {"role": "viewer"})
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER
    olive_membership = Membership.objects.get(workspace=team, user=olive)
    response = owner.post(
        f"/workspaces/{team.pk}/members/{olive_membership.pk}/role/", {"role": "editor"}, follow=True
    )
    assert "needs an owner" in response.content.decode()
    response = owner.post(f"/workspaces/{team.pk}/members/{olive_membership.pk}/remove/", follow=True)
    assert "last owner" in response.content.decode()
    olive_membership.refresh_from_db()
    assert olive_membership.role == Role.OWNER
    owner.post(f"/workspaces/{team.pk}/members/{membership.pk}/role/", {"role": "owner"})
    assert (
        owner.post(
            f"/workspaces/{team.pk}/members/{olive_membership.pk}/role/", {"role": "editor"}
        ).status_code
        == 302
    )
    olive_membership.refresh_from_db()
    assert olive_membership.role == Role.EDITOR
    # Now olive is an editor: managing members is refused (403), and bob (owner) removes her.
    assert owner.post(f"/workspaces/{team.pk}/members/{membership.pk}/remove/").status_code == 403
    guest.post(f"/workspaces/{team.pk}/members/{olive_membership.pk}/remove/")
    assert not Membership.objects.filter(pk=olive_membership.pk).exists()
    # A removed member no longer sees the workspace at all.
    assert owner.get(f"/workspaces/{team.pk}/").status_code == 404


@pytest.mark.django_db
def test_expired_and_revoked_invitations_are_refused() -> None:
    olive, bob = make_user("olive"), make_user("bob")
    team = workspaces.workspace_create(user=olive, name="Team")
    expired = workspaces.invitation_create(
        user=olive, workspace_id=team.pk, role="editor", expires_in=timedelta(days=1)
    )
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked = workspaces.invitation_create(user=olive, workspace_id=team.pk, role="viewer")
    owner = Client()
    owner.force_login(olive)
    assert owner.post(f"/workspaces/{team.pk}/invitations/{revoked.pk}/revoke/").status_code == 302
    guest = Client()
    guest.force_login(bob)
    for invitation, text in ((expired, "has expired"), (revoked, "was revoked")):
        for response in (guest.get(f"/join/{invitation.token}/"), guest.post(f"/join/{invitation.token}/")):
            assert response.status_code == 410
            assert text in response.content.decode()
    assert not Membership.objects.filter(workspace=team, user=bob).exists()


# --- share links ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_share_page_shows_messages_metrics_and_options_then_expires_or_is_revoked() -> None:
    world = make_world()
    link, run = world["link"], world["run"]
    assert len(link.token) >= 32
    page = Client().get(f"/s/{link.token}/").content.decode()
    for text in (
        "Hello team",
        "Sure thing.",
        "You are terse.",
        "temperature",
        "TTFT 100 ms",
        "19.0 tok/s",
        "by <strong>ann</strong>",
    ):
        assert text in page, text
    assert "rename" not in page.lower() and 'name="title"' not in page
    # The link of another conversation cannot be used for this one, and unknown tokens are 404.
    assert Client().get("/s/nope/").status_code == 404

    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = Client().get(f"/s/{link.token}/")
    assert response.status_code == 410 and "This link has expired" in response.content.decode()

    second = sharing.share_link_create(user=world["users"]["ann"], conversation_id=run.conversation_id)
    assert Client().get(f"/s/{second.token}/").status_code == 200
    owner = client_for(world, "owner")
    assert owner.post(f"/share/{second.pk}/revoke/").status_code == 302
    response = Client().get(f"/s/{second.token}/")
    assert response.status_code == 410 and "This link was revoked" in response.content.decode()
    # A viewer may not revoke links (403); an outsider does not see them (404).
    third = sharing.share_link_create(user=world["users"]["ann"], conversation_id=run.conversation_id)
    assert client_for(world, "viewer").post(f"/share/{third.pk}/revoke/").status_code == 403
    assert client_for(world, "outsider").post(f"/share/{third.pk}/revoke/").status_code == 404
    assert Client().get(f"/s/{third.token}/").status_code == 200


@pytest.mark.django_db
def test_share_link_hides_the_system_prompt_and_parameters_also_in_a_fork() -> None:
    world = make_world()
    ann, otto = world["users"]["ann"], world["users"]["otto"]
    link = sharing.share_link_create(
        user=ann, conversation_id=world["conversation"].pk, hide_system_prompt=True, hide_parameters=True
    )
    page = Client().get(f"/s/{link.token}/").content.decode()
    assert "Hello team" in page and "Sure thing." in page and "TTFT 100 ms" in page
    assert "You are terse." not in page
    assert "temperature" not in page and 'data-testid="shared-options"' not in page
    otto_client = Client()
    otto_client.force_login(otto)
    response = otto_client.post(f"/s/{link.token}/fork/")
    fork = Conversation.objects.get(forked_from=world["conversation"])
    assert response["Location"] == f"/c/{fork.pk}/"
    assert fork.owner == otto and fork.workspace == otto.personal_workspace
    assert fork.visibility == Visibility.PRIVATE
    assert fork.system_prompt == "" and fork.params == {}
    assert [m.text for m in fork.messages.order_by("position")] == ["Hello team", "Sure thing."]
    assert otto_client.get(f"/c/{fork.pk}/").status_code == 200
    # Without hiding, the fork keeps them.
    plain = Client()
    plain.force_login(otto)
    plain.post(f"/s/{world['link'].token}/fork/")
    second = Conversation.objects.filter(forked_from=world["conversation"]).latest("pk")
    assert second.system_prompt == "You are terse." and second.params == {"temperature": 0.3}


@pytest.mark.django_db
def test_private_conversations_and_presets_stay_with_their_owner() -> None:
    world = make_world()
    eddie = world["users"]["eddie"]
    team = world["team"]
    mine = converse(eddie, "Eddie's own", workspace_id=team.pk).conversation
    assert mine.visibility == Visibility.PRIVATE and mine.workspace == team
    assert client_for(world, "viewer").get(f"/c/{mine.pk}/").status_code == 404
    assert client_for(world, "owner").get(f"/c/{mine.pk}/").status_code == 404
    eddie_client = client_for(world, "editor")
    assert eddie_client.get(f"/c/{mine.pk}/").status_code == 200
    # The list shows the current workspace's conversations: switch to the team first.
    assert "Eddie" not in eddie_client.get("/conversations/").content.decode()
    eddie_client.post("/workspaces/switch/", {"workspace": team.pk})
    listed = eddie_client.get("/conversations/").content.decode()
    assert "Eddie&#x27;s own" in listed and "Hello team" in listed
    assert (
        client_for(world, "outsider").post("/workspaces/switch/", {"workspace": team.pk}).status_code == 404
    )

    # Presets: the team library is seen by every member (viewers read only), personal ones by their owner.
    from playground.services.presets import preset_create

    library = preset_create(owner=eddie, name="Team default", scope="workspace", workspace_id=team.pk)
    personal = preset_create(owner=eddie, name="Mine")
    names = {p["name"] for p in client_for(world, "viewer").get("/api/presets/").json()["presets"]}
    assert "Team default" in names and "Mine" not in names
    assert {p["name"] for p in client_for(world, "outsider").get("/api/presets/").json()["presets"]} == set()
    viewer = client_for(world, "viewer")
    assert (
        viewer.post(f"/api/presets/{library.pk}/", {"name": "x"}, content_type="application/json").status_code
        == 403
    )
    assert viewer.get(f"/api/presets/{personal.pk}/").status_code == 404
    assert (
        client_for(world, "owner")
        .post(f"/api/presets/{library.pk}/", {"name": "Team v2"}, content_type="application/json")
        .status_code
        == 200
    )
    assert Preset.objects.get(pk=library.pk).name == "Team v2"


# --- the workspace's own API key ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_upstream")
async def test_workspace_key_is_encrypted_masked_and_used_upstream(
    upstream_settings: Any, emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = await database_sync_to_async(make_world)()
    team = world["team"]

    def set_key() -> list[str]:
        owner = client_for(world, "owner")
        response = owner.post(
            f"/workspaces/{team.pk}/update/", {"name": "Team", "api_key": WORKSPACE_KEY}, follow=True
        )
        pages = [response.content.decode()]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT api_key_encrypted, api_key_last4 FROM playground_workspace WHERE id = %s", [team.pk]
            )
            encrypted, last4 = cursor.fetchone()
        assert WORKSPACE_KEY not in encrypted and last4 == "wxyz" and encrypted
        team.refresh_from_db()
        assert team.api_key() == WORKSPACE_KEY
        editor = client_for(world, "editor")
        c = world["conversation"]
        for client, url in (
            (owner, f"/workspaces/{team.pk}/"),
            (editor, f"/workspaces/{team.pk}/"),
            (owner, f"/c/{c.pk}/"),
            (owner, f"/c/{c.pk}/data/"),
            (owner, f"/c/{c.pk}/export/"),
            (owner, f"/runs/{world['run'].pk}/"),
            (owner, f"/c/{c.pk}/share/"),
            (Client(), f"/s/{world['link'].token}/"),
        ):
            pages.append(client.get(url).content.decode())
        return pages

    pages = await database_sync_to_async(set_key)()
    assert "••••wxyz" in pages[0] and "••••wxyz" in pages[1]
    assert not any(WORKSPACE_KEY in page for page in pages)

    # A run in the team's conversation (and a new one in the team) reaches the emulator with that key.
    cookie = await database_sync_to_async(
        lambda: cookie_of(_switched(client_for(world, "editor"), team.pk))
    )()
    communicator = await open_socket("/ws/chat/", cookie)
    assert (await communicator.connect())[0]
    ws = Socket(communicator)
    await ws.start(
        "s1", conversation=world["conversation"].pk, messages=[{"role": "user", "content": "Again"}]
    )
    frames = await ws.until_end("s1")
    assert frames[-1]["type"] == "chat.done"
    await ws.start("s2")
    frames = await ws.until_end("s2")
    assert frames[-1]["type"] == "chat.done"
    new = frames[0]["conversation"]
    await ws.disconnect()
    requests = [r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    assert [r["auth_last4"] for r in requests[-2:]] == ["wxyz", "wxyz"]
    assert await database_sync_to_async(lambda: Conversation.objects.get(pk=new).workspace_id)() == team.pk
    # The personal workspace has no key of its own: the server's key is used there.
    otto_cookie = await database_sync_to_async(lambda: cookie_of(client_for(world, "outsider")))()
    communicator = await open_socket("/ws/chat/", otto_cookie)
    assert (await communicator.connect())[0]
    other = Socket(communicator)
    await other.start("s3")
    await other.until_end("s3")
    await other.disconnect()
    assert emulator.state()["requests"][-1]["auth_last4"] == API_KEY[-4:]
    assert not any(WORKSPACE_KEY in text for text in ws.raw + other.raw)
    assert not any(WORKSPACE_KEY in record.getMessage() for record in caplog.records)
    assert not any(WORKSPACE_KEY in json.dumps(r) for r in emulator.state()["requests"])


def _switched(client: Client, workspace_id: int) -> Client:
    client.post("/workspaces/switch/", {"workspace": workspace_id})
    return client


# --- the team's preset library: who may do what (table rows, through the real endpoints) ------------

SKIP = "skip"  # not applicable: an outsider cannot make the team their current workspace at all
PRESET_ACTIONS = ("apply", "create_in_library", "edit", "delete", "move_to_library", "move_out")
# "apply" reads a library preset; "edit" renames it; "delete" deletes it; "move_to_library" moves the
# user's own personal preset into the team library; "move_out" takes a library preset back to
# "My presets". The library preset was made by ann (an editor): "author" is ann, "editor" is eddie.
PRESET_MATRIX: dict[str, tuple[str, ...]] = {
    #          apply      create     edit       delete     to library to mine
    "owner": (OK, OK, OK, OK, OK, FORBIDDEN),
    "author": (OK, OK, OK, OK, OK, OK),
    "editor": (OK, OK, OK, FORBIDDEN, OK, FORBIDDEN),
    "viewer": (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "outsider": (NOT_FOUND, SKIP, NOT_FOUND, NOT_FOUND, SKIP, NOT_FOUND),
    "anonymous": (LOGIN,) * 6,
}
PRESET_CASES = [
    (who, action, PRESET_MATRIX[who][i])
    for who in PRESET_MATRIX
    for i, action in enumerate(PRESET_ACTIONS)
    if PRESET_MATRIX[who][i] != SKIP
]
PRESET_USERS = {"owner": "olive", "author": "ann", "editor": "eddie", "viewer": "vera", "outsider": "otto"}


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "action", "expected"), PRESET_CASES)
def test_permission_matrix_preset_library(who: str, action: str, expected: str) -> None:
    from playground.services.presets import preset_create

    world = make_world()
    team = world["team"]
    library = preset_create(
        owner=world["users"]["ann"], name="Team default", scope="workspace", workspace_id=team.pk
    )
    client = Client()
    user = world["users"].get(PRESET_USERS.get(who, ""))
    own = None
    if user is not None:
        client.force_login(user)
        _switched(client, team.pk)  # the team is the current workspace (refused for the outsider)
        own = preset_create(owner=user, name=f"{user.username}'s own")
    url = f"/api/presets/{library.pk}/"
    if action == "apply":
        response = client.get(url)
    elif action == "create_in_library":
        response = client.post(
            "/api/presets/", {"name": "New", "scope": "workspace"}, content_type="application/json"
        )
    elif action == "edit":
        response = client.post(url, {"name": "Renamed"}, content_type="application/json")
    elif action == "delete":
        response = client.delete(url)
    elif action == "move_to_library":
        target = own.pk if own else library.pk
        response = client.post(
            f"/api/presets/{target}/", {"scope": "workspace"}, content_type="application/json"
        )
    else:
        response = client.post(url, {"scope": "personal"}, content_type="application/json")
    status = {201: OK}.get(response.status_code)
    assert (status or outcome(response)) == expected, (who, action, response.status_code)
    # Nothing changes unless allowed.
    library_now = Preset.objects.filter(pk=library.pk).first()
    if action == "create_in_library":
        assert Preset.objects.filter(name="New", scope="workspace", workspace=team).exists() is (
            expected == OK
        )
    if action == "edit":
        assert (library_now.name == "Renamed") is (expected == OK)
    if action == "delete":
        assert (library_now is None) is (expected == OK)
    if action == "move_to_library" and own is not None:
        own.refresh_from_db()
        assert (own.scope == "workspace" and own.workspace_id == team.pk) is (expected == OK)
    if action == "move_out":
        assert (library_now.scope == "personal") is (expected == OK)


@pytest.mark.django_db
def test_presets_page_and_api_show_my_presets_and_the_library_with_rights() -> None:
    from playground.services.presets import preset_create

    world = make_world()
    team = world["team"]
    preset_create(owner=world["users"]["ann"], name="Team default", scope="workspace", workspace_id=team.pk)
    preset_create(owner=world["users"]["vera"], name="Vera's own")
    viewer = _switched(client_for(world, "viewer"), team.pk)
    data = viewer.get("/api/presets/").json()
    assert data["workspace"] == {
        "id": team.pk,
        "name": "Team",
        "role": "viewer",
        "can_publish": False,
        "personal": False,
    }
    rights = {p["name"]: p["rights"] for p in data["presets"]}
    assert rights["Team default"] == {"edit": False, "delete": False, "move": False, "default": False}
    # Her own preset is hers to edit, but a viewer cannot publish it to the team library.
    assert rights["Vera's own"] == {"edit": True, "delete": True, "move": False, "default": True}
    page = viewer.get("/presets/").content.decode()
    assert "My presets" in page and "Team library" in page
    library_section = page[page.index('data-testid="preset-section-library"') :]
    assert "Team default" in library_section and "by ann" in library_section
    for button in ("preset-rename-toggle", "preset-delete", "preset-move", "preset-set-default"):
        assert f'data-testid="{button}"' not in library_section, button
    assert 'data-testid="preset-readonly"' in library_section
    # The page's rename, default and delete forms are refused too (403), and nothing changed.
    library = Preset.objects.get(name="Team default")
    assert viewer.post(f"/presets/{library.pk}/rename/", {"name": "x"}).status_code == 403
    assert viewer.post(f"/presets/{library.pk}/delete/").status_code == 403
    assert viewer.post(f"/presets/{library.pk}/move/", {"scope": "personal"}).status_code == 403
    assert Preset.objects.get(pk=library.pk).name == "Team default"

    # An editor moves her preset into the library and back, from the page.
    eddie = world["users"]["eddie"]
    mine = preset_create(owner=eddie, name="Eddie's sampler")
    editor = _switched(client_for(world, "editor"), team.pk)
    page = editor.get("/presets/").content.decode()
    assert "Move to library" in page
    response = editor.post(f"/presets/{mine.pk}/move/", {"scope": "workspace"}, follow=True)
    assert "Eddie&#x27;s sampler&quot; to the Team library." in response.content.decode()
    mine.refresh_from_db()
    assert mine.scope == "workspace" and mine.workspace_id == team.pk
    assert "Eddie's sampler" in {p["name"] for p in viewer.get("/api/presets/").json()["presets"]}
    editor.post(f"/presets/{mine.pk}/move/", {"scope": "personal"})
    mine.refresh_from_db()
    assert mine.scope == "personal"
    assert "Eddie's sampler" not in {p["name"] for p in viewer.get("/api/presets/").json()["presets"]}


@pytest.mark.django_db
def test_a_default_preset_moved_to_the_library_stays_its_owners_default() -> None:
    from playground.selectors.presets import preset_default_for_user
    from playground.services.presets import preset_create

    world = make_world()
    team, users = world["team"], world["users"]
    eddies = preset_create(owner=users["eddie"], name="Eddie's start", is_default=True)
    editor = _switched(client_for(world, "editor"), team.pk)
    assert editor.post(f"/presets/{eddies.pk}/move/", {"scope": "workspace"}).status_code == 302
    eddies.refresh_from_db()
    assert eddies.scope == "workspace" and eddies.is_default
    # Eddie still starts from it; every other member sees it in the library, but not as their default.
    assert preset_default_for_user(user=users["eddie"]) == eddies
    mine = {p["name"]: p["is_default"] for p in editor.get("/api/presets/").json()["presets"]}
    assert mine["Eddie's start"] is True
    for who, name in (("viewer", "vera"), ("owner", "olive")):
        client = _switched(client_for(world, who), team.pk)
        listed = {p["name"]: p for p in client.get("/api/presets/").json()["presets"]}
        assert listed["Eddie's start"]["is_default"] is False, who
        assert listed["Eddie's start"]["rights"]["default"] is False, who
        assert preset_default_for_user(user=users[name]) is None, who
        page = client.get("/presets/").content.decode()
        library = page[page.index('data-testid="preset-section-library"') :]
        assert 'data-testid="default-mark"' not in library, who
        assert 'data-testid="preset-set-default"' not in library, who
        exported = client.get("/presets/export/").json()["presets"]
        assert not any(p["is_default"] for p in exported), who
    # Another editor cannot make it theirs (nor change Eddie's): a default is personal.
    olive = _switched(client_for(world, "owner"), team.pk)
    assert olive.post(f"/presets/{eddies.pk}/default/", {"is_default": "on"}).status_code == 403
    response = olive.post(
        f"/api/presets/{eddies.pk}/", json.dumps({"is_default": True}), content_type="application/json"
    )
    assert response.status_code == 403 and response.json()["error"]["field"] == "is_default"
    assert olive.post(f"/presets/{eddies.pk}/default/").status_code == 403
    eddies.refresh_from_db()
    assert eddies.is_default and preset_default_for_user(user=users["olive"]) is None


@pytest.mark.django_db
def test_a_personal_workspace_takes_no_invitations() -> None:
    from playground.models import personal_workspace_of

    olive, bob = make_user("olive"), make_user("bob")
    personal = personal_workspace_of(olive.pk)
    owner = Client()
    owner.force_login(olive)
    page = owner.get(f"/workspaces/{personal.pk}/").content.decode()
    assert 'data-testid="invitations-personal"' in page and 'data-testid="invitation-form"' not in page
    response = owner.post(
        f"/workspaces/{personal.pk}/invitations/", {"role": "editor", "expires_in_days": "7"}, follow=True
    )
    assert "takes no invitations" in response.content.decode()
    assert not Invitation.objects.filter(workspace=personal).exists()
    # One made before the rule (straight into the table) admits nobody either.
    old = Invitation.objects.create(workspace=personal, token="t" * 32, role="editor", created_by=olive)
    guest = Client()
    guest.force_login(bob)
    for response in (guest.get(f"/join/{old.token}/"), guest.post(f"/join/{old.token}/")):
        assert response.status_code == 410
        assert "personal workspace" in response.content.decode()
    with pytest.raises(ValidationError):
        workspaces.invitation_accept(user=bob, token=old.token)
    assert not Membership.objects.filter(workspace=personal, user=bob).exists()
    # A team still takes them.
    team = workspaces.workspace_create(user=olive, name="Team")
    assert workspaces.invitation_create(user=olive, workspace_id=team.pk, role="viewer").pk


# --- the playground page knows the user's rights; who started each run ------------------------------


def page_config(client: Client, url: str) -> dict[str, Any]:
    import re
    from html import unescape

    page = client.get(url).content.decode()
    match = re.search(r'<script id="playground-config" type="application/json">(.*?)</script>', page, re.S)
    assert match, url
    return json.loads(unescape(match.group(1)))


@pytest.mark.django_db
def test_playground_page_data_carries_the_rights_and_who_ran_each_reply() -> None:
    world = make_world()
    c, team = world["conversation"], world["team"]
    expected = {
        # who: can_run, can_edit, can_share, can_set_visibility, can_fork (into their current workspace)
        "owner": (True, True, True, False, True),
        "editor": (True, True, True, False, True),
        "viewer": (False, False, False, False, True),  # the fork goes to her personal workspace
    }
    for who, rights in expected.items():
        config = page_config(client_for(world, who), f"/c/{c.pk}/")
        got = config["conversation"]["rights"]
        names = ("can_run", "can_edit", "can_share", "can_set_visibility", "can_fork")
        assert tuple(got[name] for name in names) == rights, who
        assert config["rights"] == got
        assert config["conversation"]["workspace"] == {"id": team.pk, "name": "Team", "personal": False}
        assert config["conversation"]["visibility"] == "workspace"
        replies = [m for m in config["conversation"]["messages"] if m["role"] == "assistant"]
        assert [m["run_by"] for m in replies] == ["ann"]
    # The author may also make it private again; in the team, a viewer may not fork into it.
    ann = Client()
    ann.force_login(world["users"]["ann"])
    assert page_config(ann, f"/c/{c.pk}/")["conversation"]["rights"]["can_set_visibility"] is True
    viewer = _switched(client_for(world, "viewer"), team.pk)
    config = page_config(viewer, f"/c/{c.pk}/")
    assert config["conversation"]["role"] == "viewer"
    assert config["conversation"]["rights"]["can_fork"] is False
    # A new conversation in the team: a viewer's page is read-only, an editor's is not.
    config = page_config(viewer, "/")
    assert config["workspace"] == {"id": team.pk, "name": "Team", "personal": False}
    assert config["role"] == "viewer"
    assert config["rights"]["can_run"] is False
    assert page_config(_switched(client_for(world, "editor"), team.pk), "/")["rights"]["can_run"] is True


@pytest.mark.django_db
def test_the_playground_visibility_toggle_answers_json_and_is_the_authors_alone() -> None:
    world = make_world()
    c = world["conversation"]
    ann = Client()
    ann.force_login(world["users"]["ann"])
    json_accept = {"HTTP_ACCEPT": "application/json"}
    response = ann.post(f"/c/{c.pk}/visibility/", {"visibility": "private"}, **json_accept)
    assert response.status_code == 200 and response.json() == {"visibility": "private"}
    c.refresh_from_db()
    assert c.visibility == Visibility.PRIVATE
    # No "Visibility saved." notice is left behind for the next page.
    assert "Visibility saved" not in ann.get("/presets/").content.decode()
    ann.post(f"/c/{c.pk}/visibility/", {"visibility": "workspace"}, **json_accept)
    assert (
        client_for(world, "editor")
        .post(f"/c/{c.pk}/visibility/", {"visibility": "private"}, **json_accept)
        .status_code
        == 403
    )
    assert (
        client_for(world, "viewer")
        .post(f"/c/{c.pk}/visibility/", {"visibility": "private"}, **json_accept)
        .status_code
        == 403
    )
    c.refresh_from_db()
    assert c.visibility == Visibility.WORKSPACE


@pytest.mark.django_db
def test_run_page_says_who_started_the_run() -> None:
    world = make_world()
    page = client_for(world, "viewer").get(f"/runs/{world['run'].pk}/").content.decode()
    assert 'data-testid="run-by"' in page and "Run by <strong>ann</strong>" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/c/{id}/",
        "/c/{id}/data/",
        "/c/{id}/share/",
        "/runs/{run}/",
        "/api/presets/{preset}/",
        "/presets/",
        "/workspaces/{team}/",
    ],
)
def test_anonymous_users_go_to_login_whether_or_not_the_object_exists(url: str) -> None:
    from playground.services.presets import preset_create

    world = make_world()
    preset = preset_create(
        owner=world["users"]["ann"], name="Lib", scope="workspace", workspace_id=world["team"].pk
    )
    real = url.format(
        id=world["conversation"].pk, run=world["run"].pk, preset=preset.pk, team=world["team"].pk
    )
    missing = url.format(id=999_999, run=999_999, preset=999_999, team=999_999)
    for path in (real, missing):
        response = Client().get(path)
        assert outcome(response) == LOGIN, path
        assert response["Location"] == f"/accounts/login/?next={path}", path


# --- models.list with the workspace's own key -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_upstream")
async def test_models_list_uses_the_workspace_key_with_a_cache_per_key(
    upstream_settings: Any, emulator: Any
) -> None:
    from django.core.cache import cache

    world = await database_sync_to_async(make_world)()
    team = world["team"]

    def set_key() -> None:
        owner = client_for(world, "owner")
        owner.post(f"/workspaces/{team.pk}/update/", {"name": "Team", "api_key": WORKSPACE_KEY})

    await database_sync_to_async(set_key)()

    async def models_of(who: str, switch: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        def login() -> bytes | None:
            client = client_for(world, who)
            return cookie_of(_switched(client, team.pk) if switch else client)

        communicator = await open_socket("/ws/chat/", await database_sync_to_async(login)())
        assert (await communicator.connect())[0]
        ws = Socket(communicator)
        await ws.send({"type": "models.list"})
        frame = await ws.receive()
        await ws.disconnect()
        listed = [r for r in emulator.state()["requests"] if r["path"].endswith("/models")]
        return frame, (listed[-1] if listed else {})

    frame, request = await models_of("editor", switch=True)
    assert frame["type"] == "models.list" and frame["cached"] is False and "error" not in frame
    assert request["auth_last4"] == "wxyz" and request["method"] == "GET"
    # The same key: from the cache. Another workspace (the server's key): its own entry, fetched anew.
    frame, _ = await models_of("viewer", switch=True)
    assert frame["cached"] is True
    frame, request = await models_of("outsider", switch=False)
    assert frame["cached"] is False and request["auth_last4"] == API_KEY[-4:]
    keys = [str(k) for k in getattr(cache, "_cache", {})]
    assert len([k for k in keys if "playground:models:" in k]) == 2
    assert not any(WORKSPACE_KEY in k or WORKSPACE_KEY[-12:] in k for k in keys)
    assert not any(WORKSPACE_KEY in json.dumps(r) for r in emulator.state()["requests"])


@pytest.mark.django_db
def test_the_share_page_offers_workspace_visibility_only_in_a_team() -> None:
    """In a personal workspace there is nobody to share with: only share links are offered."""
    world = make_world()
    ann = world["users"]["ann"]
    personal = converse(ann, "Just me").conversation  # her personal workspace
    client = Client()
    client.force_login(ann)
    alone = client.get(f"/c/{personal.pk}/share/").content.decode()
    assert "In the workspace" not in alone
    team_page = client.get(f"/c/{world['conversation'].pk}/share/").content.decode()
    assert "In the workspace" in team_page
