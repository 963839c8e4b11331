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

from playground.current import SESSION_KEY
from playground.models import Conversation, Membership, Visibility
from playground.search import SLOTS, TABLE, key, search_rebuild, search_words
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
    with connection.cursor() as cursor:  # nothing of it is left in the index
        column = "key" if connection.vendor == "postgresql" else "rowid"
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE {column} / {SLOTS} = %s", [first.pk])
        assert cursor.fetchone()[0] == 0


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
        cursor.execute(f"DELETE FROM {TABLE}")
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
