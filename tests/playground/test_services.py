"""Services and selectors at the database level: what a run saves, and who may see what."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from playground.models import Conversation, Message, Run
from playground.selectors import conversations as selectors
from playground.services import conversations, runs

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


@pytest.fixture
def alice() -> Any:
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def bob() -> Any:
    return get_user_model().objects.create_user("bob")


def start(user: Any, messages: list[dict[str, Any]], conversation_id: int | None = None, **kw: Any) -> Run:
    request = {
        "model": MODEL,
        "messages": messages,
        "temperature": 0.5,
        "max_completion_tokens": 10,
        "stream": True,
    }
    args: dict[str, Any] = {
        "user": user,
        "conversation_id": conversation_id,
        "mode": "chat",
        "model": MODEL,
        "messages": messages,
        "prompt": None,
        "params": {"temperature": 0.5},
        "extra": {},
        "request": request,
    }
    return runs.run_start(**{**args, **kw})


def finish(run: Run, *, status: str = "done", content: str = "Hello there", **kw: Any) -> runs.RunResult:
    args: dict[str, Any] = {
        "run_id": run.pk,
        "status": status,
        "opened": {
            "status": 200,
            "headers": {"x-request-id": "req-1", "set-cookie": "a=b", "content-type": "text/event-stream"},
            "request_id": "req-1",
            "sampling_options": {"temperature": 0.5},
            "rate_limits": {"x-ratelimit-remaining-requests": "59"},
        },
        "output": [
            {
                "content": content,
                "reasoning": "",
                "tool_calls": None,
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        "perf": {"server-time-to-first-token": 0.01},
        "timings": {"ttft_ms": 12.0, "total_ms": 40.0, "chunks": 2, "tokens": 2, "tokens_per_second": 35.71},
        "timeline": [
            {"type": "chat.delta", "i": 0, "t": 12.0, "choice": 0, "content": "Hello"},
            {"type": "chat.delta", "i": 1, "t": 40.0, "choice": 0, "content": " there"},
        ],
        "error": None,
        "response_model": MODEL,
        "finish_reasons": {0: "stop"},
    }
    return runs.run_finish(**{**args, **kw})


def test_run_start_creates_conversation_messages_and_streaming_run(alice: Any) -> None:
    run = start(alice, [{"role": "user", "content": "What is the capital of France, in one word please?"}])
    conversation = run.conversation
    assert conversation.owner == alice
    assert conversation.title == "What is the capital of France, in one word please?"
    assert conversation.params == {"temperature": 0.5}
    assert [(m.position, m.role, m.content) for m in conversation.messages.all()] == [
        (0, "user", "What is the capital of France, in one word please?")
    ]
    assert run.status == Run.Status.STREAMING
    assert run.started_by == alice
    assert run.requested_options == {"temperature": 0.5, "max_tokens": 10}


def test_long_title_is_cut_at_a_word(alice: Any) -> None:
    run = start(alice, [{"role": "user", "content": "word " * 40}])
    assert run.conversation.title.endswith("…")
    assert len(run.conversation.title) <= runs.TITLE_LENGTH + 1
    assert "wor…" not in run.conversation.title


def test_run_finish_saves_reply_and_run_record(alice: Any) -> None:
    run = start(alice, [{"role": "user", "content": "Hi"}])
    result = finish(run)
    run.refresh_from_db()
    assert run.status == "done"
    assert run.request_id == "req-1"
    assert "set-cookie" not in run.response_headers
    assert run.response_headers["x-request-id"] == "req-1"
    assert run.usage["total_tokens"] == 5
    assert run.finish_reasons == {"0": "stop"}
    assert run.finished_at is not None
    reply = Message.objects.get(pk=result.message_id)
    assert (reply.role, reply.content, reply.position) == ("assistant", "Hello there", 1)
    assert run.message == reply
    assert result.message_ids == [m.pk for m in run.conversation.messages.order_by("position")]
    assert result.message_ids[-1] == reply.pk


def test_stopped_run_keeps_partial_text(alice: Any) -> None:
    run = start(alice, [{"role": "user", "content": "Hi"}])
    finish(run, status="stopped", content="Hel", finish_reasons={})
    run.refresh_from_db()
    assert run.status == "stopped"
    assert run.message.content == "Hel"


def test_error_before_any_text_saves_no_empty_reply(alice: Any) -> None:
    run = start(alice, [{"role": "user", "content": "Hi"}])
    error = {"code": "http_error", "message": "Model not found", "status": 404, "request_id": "req-9"}
    result = finish(run, status="error", content="", opened=None, error=error, output=[], finish_reasons={})
    run.refresh_from_db()
    assert run.status == "error"
    assert run.error["status"] == 404
    assert run.request_id == "req-9"
    assert result.message_id is None
    assert list(run.conversation.messages.values_list("role", flat=True)) == ["user"]


def test_continuing_keeps_earlier_messages_and_their_ids(alice: Any) -> None:
    first = start(alice, [{"role": "user", "content": "Hi"}])
    result = finish(first)
    conversation_id = first.conversation_id
    second = start(
        alice,
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello there"},
            {"role": "user", "content": "And again"},
        ],
        conversation_id=conversation_id,
    )
    messages = list(second.conversation.messages.order_by("position"))
    assert [m.pk for m in messages[:2]] == result.message_ids
    assert [m.content for m in messages] == ["Hi", "Hello there", "And again"]
    # The title stays the one proposed first.
    assert second.conversation.title == "Hi"
    first.refresh_from_db()
    assert first.message_id == result.message_id


def test_editing_an_earlier_message_adds_a_branch_and_keeps_the_old_one(alice: Any) -> None:
    first = start(alice, [{"role": "user", "content": "Hi"}])
    old = finish(first)
    second = start(
        alice, [{"role": "user", "content": "Hello instead"}], conversation_id=first.conversation_id
    )
    new = finish(second, content="Hey")
    conversation = Conversation.objects.get(pk=first.conversation_id)
    # Both versions stay: two first messages (siblings), each with its own reply.
    assert sorted(
        (m.position, m.content, m.parent.content if m.parent else None) for m in conversation.messages.all()
    ) == [(0, "Hello instead", None), (0, "Hi", None), (1, "Hello there", "Hi"), (1, "Hey", "Hello instead")]
    assert conversation.current_leaf_id == new.message_id
    assert [Message.objects.get(pk=i).content for i in old.message_ids] == ["Hi", "Hello there"]
    assert [Message.objects.get(pk=i).content for i in new.message_ids] == ["Hello instead", "Hey"]


def test_regenerating_a_reply_adds_a_sibling_reply(alice: Any) -> None:
    first = start(alice, [{"role": "user", "content": "Hi"}])
    one = finish(first, content="One")
    again = start(
        alice,
        [{"role": "user", "content": "Hi", "id": one.message_ids[0]}],
        conversation_id=first.conversation_id,
    )
    two = finish(again, content="Two")
    assert again.follows_id == one.message_ids[0]
    replies = Message.objects.filter(parent_id=one.message_ids[0]).order_by("pk")
    assert [m.content for m in replies] == ["One", "Two"]
    assert two.message_ids == [one.message_ids[0], two.message_id]


def test_a_named_id_picks_the_branch_among_equal_siblings(alice: Any) -> None:
    first = start(alice, [{"role": "user", "content": "Hi"}])
    one = finish(first, content="Same")
    conversation_id = first.conversation_id
    finish(start(alice, [{"role": "user", "content": "Hi"}], conversation_id=conversation_id), content="Same")
    hi, older = one.message_ids
    turns = [
        {"role": "user", "content": "Hi", "id": hi},
        {"role": "assistant", "content": "Same", "id": older},
        {"role": "user", "content": "More"},
    ]
    third = start(alice, turns, conversation_id=conversation_id)
    assert third.follows.parent_id == older
    # Without ids, the newest equal sibling is followed (the second "Same"), so "More" is new there.
    fourth = start(
        alice, [{k: v for k, v in t.items() if k != "id"} for t in turns], conversation_id=conversation_id
    )
    assert fourth.follows.parent_id not in (older, None)
    assert fourth.follows_id != third.follows_id


def test_fork_copies_the_branch_into_a_new_conversation(alice: Any, bob: Any) -> None:
    first = start(alice, [{"role": "user", "content": "Hi"}])
    result = finish(first)
    second = start(
        alice,
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello there"},
            {"role": "user", "content": "Go on"},
        ],
        conversation_id=first.conversation_id,
    )
    finish(second, content="More")
    fork = conversations.conversation_fork(
        user=alice, conversation_id=first.conversation_id, message_id=result.message_id
    )
    assert fork.forked_from_id == first.conversation_id
    assert fork.title == "Hi (fork)"
    path = selectors.conversation_path(conversation=fork)
    assert [(m.role, m.content) for m in path] == [("user", "Hi"), ("assistant", "Hello there")]
    with pytest.raises(Conversation.DoesNotExist):
        conversations.conversation_fork(
            user=bob, conversation_id=first.conversation_id, message_id=result.message_id
        )


def test_leaf_set_rename_delete(alice: Any, bob: Any) -> None:
    first = start(alice, [{"role": "user", "content": "Hi"}])
    one = finish(first)
    finish(start(alice, [{"role": "user", "content": "Other"}], conversation_id=first.conversation_id))
    conversation = conversations.conversation_leaf_set(
        user=alice, conversation_id=first.conversation_id, message_id=one.message_id
    )
    assert [m.content for m in selectors.conversation_path(conversation=conversation)] == [
        "Hi",
        "Hello there",
    ]
    other = Conversation.objects.create(owner=alice, model=MODEL)
    foreign = Message.objects.create(conversation=other, position=0, role="user", content="x")
    with pytest.raises(Message.DoesNotExist):
        conversations.conversation_leaf_set(
            user=alice, conversation_id=first.conversation_id, message_id=foreign.pk
        )
    renamed = conversations.conversation_rename(
        user=alice, conversation_id=first.conversation_id, title="  A   name "
    )
    assert renamed.title == "A name"
    with pytest.raises(Conversation.DoesNotExist):
        conversations.conversation_delete(user=bob, conversation_id=first.conversation_id)
    conversations.conversation_delete(user=alice, conversation_id=first.conversation_id)
    assert not Run.objects.filter(conversation_id=first.conversation_id).exists()


def test_another_users_conversation_is_refused(alice: Any, bob: Any) -> None:
    run = start(alice, [{"role": "user", "content": "secret"}])
    with pytest.raises(Conversation.DoesNotExist):
        start(bob, [{"role": "user", "content": "mine now"}], conversation_id=run.conversation_id)
    assert run.conversation.messages.get().content == "secret"
    assert Run.objects.count() == 1


def test_completions_mode_keeps_the_prompt_as_a_message(alice: Any) -> None:
    run = start(alice, [], mode="completions", prompt="Once upon a time")
    assert run.conversation.title == "Once upon a time"
    assert run.conversation.messages.get().content == "Once upon a time"
    result = finish(run, content=", there was")
    assert Message.objects.get(pk=result.message_id).content == ", there was"


def test_selectors_filter_by_owner(alice: Any, bob: Any) -> None:
    run = start(alice, [{"role": "user", "content": "Hi"}])
    assert list(selectors.conversation_list_for_user(user=alice)) == [run.conversation]
    assert not selectors.conversation_list_for_user(user=bob).exists()
    assert list(selectors.run_list_for_conversation(user=alice, conversation_id=run.conversation_id)) == [run]
    assert not selectors.run_list_for_conversation(user=bob, conversation_id=run.conversation_id).exists()
    with pytest.raises(Run.DoesNotExist):
        selectors.run_get_for_user(user=bob, run_id=run.pk)
    assert selectors.run_get_for_user(user=alice, run_id=run.pk) == run


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_read_first_waits_for_another_writer_instead_of_failing() -> None:
    """SQLite in WAL mode: a run's save (read, then write) racing a view's write from another thread
    must wait for it, not fail with "database is locked" (the settings begin transactions IMMEDIATE)."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL has no such snapshot failure")
    user = get_user_model().objects.create_user("racer")
    has_read, other_done = threading.Event(), threading.Event()
    failures: list[Exception] = []

    def other_writer() -> None:
        try:
            has_read.wait(5)
            Conversation.objects.create(owner=user, title="from the other thread")
        except Exception as exc:
            failures.append(exc)
        finally:
            other_done.set()
            connections.close_all()

    thread = threading.Thread(target=other_writer)
    thread.start()
    with transaction.atomic():
        Conversation.objects.filter(owner=user).count()  # the read that pins a snapshot
        has_read.set()
        other_done.wait(0.5)  # the other thread writes now (deferred) or waits for this one (immediate)
        Conversation.objects.create(owner=user, title="from this thread")
    thread.join(30)
    assert failures == []
    assert Conversation.objects.filter(owner=user).count() == 2


def test_run_finish_with_the_place_run_start_left_writes_without_reading(alice: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = start(alice, [{"role": "user", "content": "Hi"}])
    earlier = finish(first)
    follow_up = [
        {"role": "user", "content": "Hi", "id": earlier.message_ids[0]},
        {"role": "assistant", "content": "Hello there", "id": earlier.message_id},
        {"role": "user", "content": "And again?"},
    ]
    run = start(alice, follow_up, conversation_id=first.conversation_id)
    with CaptureQueriesContext(connection) as queries:
        result = finish(run, content="Again.", place=run.place)
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert selects == []
    # The same branch as read back from the database, ending with the new reply.
    conversation = Conversation.objects.get(pk=first.conversation_id)
    assert conversation.current_leaf_id == result.message_id
    assert result.message_ids == [m.pk for m in conversation.messages.order_by("position")]
    assert [Message.objects.get(pk=i).content for i in result.message_ids] == [
        "Hi",
        "Hello there",
        "And again?",
        "Again.",
    ]
