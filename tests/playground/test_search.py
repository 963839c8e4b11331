"""Search on the conversation list, through the database's full-text index (playground/search.py).

Runs on SQLite, and again on PostgreSQL under ``.ci/run`` (``DATABASE_URL``): the same assertions hold
for FTS5 and for ``tsvector``. Each test asks the list page, as a user does, which conversations match.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from playground import search
from playground.current import SESSION_KEY
from playground.models import Conversation, Membership, Message, Visibility
from playground.search import SLOTS, key, search_index, search_rebuild, search_words
from playground.services import conversations, runs, sharing, transfer, workspaces

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def make_user(name: str) -> Any:
    return get_user_model().objects.create_user(name, password="a-long-passphrase-1")


def found(user: Any, query: str, workspace: Any = None) -> list[str]:
    """The titles the list page shows for ``query`` (in ``workspace``, else the personal one)."""
    client = Client()
    client.force_login(user)
    if workspace is not None:
        session = client.session
        session[SESSION_KEY] = workspace.pk
        session.save()
    html = client.get("/conversations/", {"q": query}).content.decode()
    return re.findall(r'data-testid="conversation-open">([^<]*)<', html)


def converse(
    user: Any, text: str, *, reply: str = "Sure.", conversation_id: int | None = None, **kw: Any
) -> runs.RunResult:
    """One saved exchange (run_start + run_finish), as the consumer makes it."""
    messages = kw.pop("messages", None) or [{"role": "user", "content": text}]
    run = runs.run_start(
        user=user,
        conversation_id=conversation_id,
        mode="chat",
        model=MODEL,
        messages=messages,
        prompt=None,
        params={},
        extra={},
        request={"model": MODEL, "messages": messages, "stream": True},
        **kw,
    )
    return runs.run_finish(
        run_id=run.pk,
        status="done",
        opened=None,
        output=[{"content": reply, "reasoning": "", "tool_calls": None, "finish_reason": "stop"}],
        usage=None,
        perf=None,
        timings={},
        timeline=[],
        error=None,
        response_model=MODEL,
        finish_reasons={0: "stop"},
    )


def conversation_of(result: runs.RunResult) -> Conversation:
    return Conversation.objects.get(runs__pk=result.run_id)


def tables() -> list[tuple[str, str]]:
    """The index's tables on this database, with the column of their key."""
    if connection.vendor == "postgresql":
        return [(search.TABLE, "key"), (search.CONVERSATIONS, "key")]
    return [(search.CONVERSATIONS, "rowid")]


def index_rows(conversation_id: int) -> int:
    """How many rows of the index belong to this conversation."""
    total = 0
    with connection.cursor() as cursor:
        for table, column in tables():
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} / {SLOTS} = %s", [conversation_id])
            total += cursor.fetchone()[0]
    return total


@pytest.fixture
def ada() -> Any:
    return make_user("ada")


def test_words_of_the_title_and_of_every_message_are_found(ada: Any) -> None:
    converse(ada, "Plan the harbour festival", reply="Book the Fireworks barge for nine.")
    converse(ada, "Weekend hike", reply="Pack water and a map.")
    assert found(ada, "festival") == ["Plan the harbour festival"]  # the title and the first message
    assert found(ada, "barge") == ["Plan the harbour festival"]  # the reply
    assert found(ada, "map") == ["Weekend hike"]
    assert found(ada, "submarine") == []


def test_case_accents_prefix_and_word_order(ada: Any) -> None:
    converse(ada, "Café crème", reply="Fireworks über dem Fluss, needle-4242.")
    converse(ada, "Other", reply="the river of fire")
    assert found(ada, "CAFE") == ["Café crème"]  # without case or accents
    assert found(ada, "fireworks UBER") == ["Café crème"]  # a phrase, in order
    assert found(ada, "uber fireworks") == []  # not in that order
    assert found(ada, "needle-4242") == ["Café crème"]  # punctuation separates words
    assert found(ada, "Firew") == ["Café crème"]  # the last word as a prefix
    assert found(ada, "river of fi") == ["Other"]
    assert found(ada, "riv of fire") == []  # only the last word is a prefix
    assert found(ada, "--- !!") == []  # no word at all: nothing matches


def test_multi_part_content_is_found(ada: Any) -> None:
    parts = [{"type": "text", "text": "Describe the lighthouse"}, {"type": "image_url", "image_url": {}}]
    converse(ada, "", messages=[{"role": "user", "content": parts}])
    assert found(ada, "lighthouse") == ["Describe the lighthouse"]


def test_search_stays_permission_filtered(ada: Any) -> None:
    bob, eve = make_user("bob"), make_user("eve")
    team = workspaces.workspace_create(user=ada, name="Team")
    Membership.objects.create(user=bob, workspace=team, role="viewer")
    shared = conversation_of(converse(ada, "Shared lantern notes", workspace_id=team.pk))
    sharing.conversation_set_visibility(user=ada, conversation_id=shared.pk, visibility=Visibility.WORKSPACE)
    converse(ada, "Private lantern diary", workspace_id=team.pk)
    converse(eve, "Eve lantern secrets")
    assert found(ada, "lantern", team) == ["Private lantern diary", "Shared lantern notes"]
    assert found(bob, "lantern", team) == ["Shared lantern notes"]  # not ada's private one
    assert found(eve, "lantern") == ["Eve lantern secrets"]
    assert found(bob, "lantern") == []  # his personal workspace has none
    Membership.objects.filter(user=bob, workspace=team).delete()
    assert found(bob, "lantern", team) == []


def test_search_follows_renames_branch_edits_and_deletes(ada: Any) -> None:
    first = conversation_of(converse(ada, "Original title words"))
    conversations.conversation_rename(user=ada, conversation_id=first.pk, title="Renamed zeppelin")
    assert found(ada, "zeppelin") == ["Renamed zeppelin"]
    assert found(ada, "original title") == ["Renamed zeppelin"]  # still its first message
    conversations.conversation_rename(user=ada, conversation_id=first.pk, title="Plain")
    assert found(ada, "zeppelin") == []
    # An edited first message: a sibling branch, found; the earlier version stays in the tree, found too.
    converse(ada, "", conversation_id=first.pk, messages=[{"role": "user", "content": "Edited walrus"}])
    assert found(ada, "walrus") == ["Plain"]
    assert found(ada, "original") == ["Plain"]
    conversations.conversation_delete(user=ada, conversation_id=first.pk)
    assert found(ada, "walrus") == []
    assert index_rows(first.pk) == 0  # nothing of it is left in the index


def test_imports_duplicates_and_forks_are_found(ada: Any) -> None:
    source = conversation_of(converse(ada, "Tell me about quasars", reply="Quasars are bright nuclei."))
    document = transfer.conversation_export(user=ada, conversation_id=source.pk)
    conversations.conversation_delete(user=ada, conversation_id=source.pk)
    assert found(ada, "quasars") == []
    imported = transfer.conversation_import(user=ada, document=document, title="Imported pulsar")
    assert found(ada, "quasars") == ["Imported pulsar"]
    assert found(ada, "pulsar") == ["Imported pulsar"]
    transfer.conversation_duplicate(user=ada, conversation_id=imported.pk)
    assert found(ada, "bright nuclei") == ["Copy of Imported pulsar", "Imported pulsar"]
    first = imported.messages.get(position=0)
    fork = conversations.conversation_fork(user=ada, conversation_id=imported.pk, message_id=first.pk)
    assert found(ada, "tell me") == [fork.title, "Copy of Imported pulsar", "Imported pulsar"]
    assert found(ada, "nuclei") == ["Copy of Imported pulsar", "Imported pulsar"]  # the fork stops before


def test_rebuild_fills_the_index_for_rows_saved_before_it(ada: Any) -> None:
    """What the migration does for the conversations and messages already saved."""
    converse(ada, "Older albatross", reply="A reply about gannets")
    with connection.cursor() as cursor:
        for table, _ in tables():
            cursor.execute(f"DELETE FROM {table}")
    assert found(ada, "albatross") == []
    assert search_rebuild() == 3  # one title, two messages
    assert found(ada, "albatross") == ["Older albatross"]
    assert found(ada, "gannets") == ["Older albatross"]


def test_keys_keep_each_conversation_in_its_own_range() -> None:
    assert key(7) // SLOTS == key(7, 1) // SLOTS == key(7, 10**12) // SLOTS == 7
    assert len({key(7), key(7, 1), key(7, 2), key(8)}) == 4


def test_words_are_folded_the_same_way_for_every_database() -> None:
    assert search_words("Fireworks über-Straße, v3p1_x 3.5") == "fireworks uber strasse v3p1 x 3 5"
    assert search_words("") == ""


def test_a_phrase_does_not_run_from_one_message_into_the_next(ada: Any) -> None:
    """Messages share a row of the conversation table: a phrase still matches within one message."""
    result = converse(ada, "Tell me about the ocean", reply="Whales sing.")
    converse(
        ada,
        "",
        conversation_id=conversation_of(result).pk,
        messages=[
            {"role": "user", "content": "Tell me about the ocean"},
            {"role": "assistant", "content": "Whales sing.", "id": result.message_id},
            {"role": "user", "content": "Dolphins too?"},
        ],
    )
    assert found(ada, "ocean") == ["Tell me about the ocean"]
    assert found(ada, "whales sing") == ["Tell me about the ocean"]
    assert found(ada, "sing dolphins") == []  # the end of one message, the start of the next
    assert found(ada, "ocean whales") == []
    assert found(ada, "about the ocean whales") == []
    assert found(ada, "dolphins too") == ["Tell me about the ocean"]


def test_a_phrase_does_not_run_from_the_title_into_a_message(ada: Any) -> None:
    conversation = conversation_of(converse(ada, "Granite quarry", reply="Basalt columns."))
    conversations.conversation_rename(user=ada, conversation_id=conversation.pk, title="Marble")
    assert found(ada, "marble") == ["Marble"]
    assert found(ada, "marble granite") == []
    assert found(ada, "granite quarry") == ["Marble"]  # the first message


def test_a_long_conversation_is_indexed_in_chunks_and_found_in_each(ada: Any, monkeypatch: Any) -> None:
    """Messages go to the conversation's last chunk until it is full, then to a new one."""
    monkeypatch.setitem(search.CHUNK_CHARS, connection.vendor, 60)
    result = converse(ada, "Chunked opening words here", reply="alpha " * 20 + "omega")
    conversation = conversation_of(result)
    sent = [
        {"role": "user", "content": "Chunked opening words here"},
        {"role": "assistant", "content": "alpha " * 20 + "omega", "id": result.message_id},
    ]
    for turn in ("kiwi mango papaya", "lychee durian", "quince medlar sloe"):
        result = converse(
            ada, "", conversation_id=conversation.pk, messages=[*sent, {"role": "user", "content": turn}]
        )
        sent = [
            *sent,
            {"role": "user", "content": turn},
            {"role": "assistant", "content": "Sure.", "id": result.message_id},
        ]
    with connection.cursor() as cursor:
        column = dict(tables())[search.CONVERSATIONS]
        cursor.execute(
            f"SELECT count(*) FROM {search.CONVERSATIONS} WHERE {column} / {SLOTS} = %s", [conversation.pk]
        )
        assert cursor.fetchone()[0] > 2  # the title and more than one chunk
    title = "Chunked opening words here"
    for query in ("opening words", "alpha omega", "mango papaya", "lychee", "quince medlar sl", "sure"):
        assert found(ada, query) == [title], query
    assert found(ada, "papaya lychee") == []
    search_rebuild()  # the same from scratch
    for query in ("opening words", "alpha omega", "mango papaya", "quince medlar sl"):
        assert found(ada, query) == [title], query
    assert found(ada, "papaya lychee") == []


@pytest.mark.parametrize("dense", [False, True])
def test_common_and_rare_words_find_the_same_in_the_same_order(
    ada: Any, monkeypatch: Any, dense: bool
) -> None:
    """PostgreSQL tests each conversation in the list's order when a word is common (``DENSE_ROWS``)
    and gathers the index's matches when it is rare: both give the same conversations, in the list's
    order, and keep to what the user may see."""
    if dense:
        monkeypatch.setattr(search, "DENSE_ROWS", 1)
    bob = make_user("bob")
    team = workspaces.workspace_create(user=ada, name="Team")
    Membership.objects.create(user=bob, workspace=team, role="viewer")
    shared = conversation_of(
        converse(ada, "Shared comet log", reply="A comet tail, seen twice", workspace_id=team.pk)
    )
    sharing.conversation_set_visibility(user=ada, conversation_id=shared.pk, visibility=Visibility.WORKSPACE)
    converse(ada, "Private comet notes", reply="comet tail again", workspace_id=team.pk)
    gone = conversation_of(converse(ada, "Deleted comet", reply="comet tail", workspace_id=team.pk))
    converse(ada, "Unrelated", reply="nothing here", workspace_id=team.pk)
    conversations.conversation_delete(user=ada, conversation_id=gone.pk)
    assert found(ada, "comet", team) == ["Private comet notes", "Shared comet log"]
    assert found(ada, "comet tail", team) == ["Private comet notes", "Shared comet log"]
    assert found(ada, "tail comet", team) == []
    assert found(ada, "comet tail seen tw", team) == ["Shared comet log"]
    assert found(bob, "comet", team) == ["Shared comet log"]
    assert found(bob, "comet tail ag", team) == []  # only in ada's private one
    assert found(bob, "deleted", team) == []


def test_search_keeps_the_lists_order_for_conversations_saved_at_the_same_moment(ada: Any) -> None:
    """Newest first, then the highest id: what the list shows, searching or not."""
    workspace = ada.personal_workspace
    made = Conversation.objects.bulk_create(
        Conversation(owner=ada, workspace=workspace, title=f"Tied {i}", model=MODEL) for i in range(5)
    )
    Conversation.objects.filter(pk__in=[c.pk for c in made]).update(updated_at=made[0].updated_at)
    nodes = Message.objects.bulk_create(
        Message(conversation=c, position=0, role="user", content="tied together") for c in made
    )
    search_index(conversations=made, messages=nodes)
    expected = [f"Tied {i}" for i in reversed(range(5))]
    assert found(ada, "") == expected
    assert found(ada, "tied together") == expected
    assert found(ada, "tied") == expected


@pytest.mark.django_db(transaction=True)
def test_the_migrations_fill_the_index_for_what_was_saved_before_them() -> None:
    """A database with conversations from before the full-text index (migration 0009) is found after
    migrating: words, phrases (PostgreSQL's table of messages is filled too) and titles."""
    from django.db.migrations.executor import MigrationExecutor

    before = [("playground", "0009_run_timeline_frames")]
    latest = [("playground", "0012_search_by_conversation")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    owner = apps.get_model("auth", "User").objects.create(username="old")
    workspace = apps.get_model("playground", "Workspace").objects.create(
        name="Old", slug="old", personal_for_id=owner.pk
    )
    Member = apps.get_model("playground", "Membership")
    Member.objects.create(workspace=workspace, user=owner, role="owner")
    old = apps.get_model("playground", "Conversation").objects.create(
        owner=owner, workspace=workspace, title="Saved before the index"
    )
    for position, text in enumerate(["Where is the lighthouse?", "On the northern cape."]):
        apps.get_model("playground", "Message").objects.create(
            conversation=old, position=position, role="user" if position == 0 else "assistant", content=text
        )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)
    # Every app forward again (the arena's and the prompts' tables went with 0009): later tests need them.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    user = get_user_model().objects.get(pk=owner.pk)
    assert found(user, "lighthouse") == ["Saved before the index"]
    assert found(user, "northern cape") == ["Saved before the index"]
    assert found(user, "lighthouse on") == []  # not across two messages
    assert found(user, "saved before") == ["Saved before the index"]
