"""StreamRun driven whole with a fake upstream client and no HTTP: access → request → relay → save → end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from playground.models import Run, Workspace
from proxy.client.errors import UpstreamHTTPError
from proxy.client.events import Delta, Done, Event, Finish, Opened, Usage
from proxy.client.transport import REQUEST_SENT
from proxy.frames import parse_start
from proxy.protocol import check
from proxy.stream import StreamRun
from tests.frames import expand

pytestmark = pytest.mark.django_db(transaction=True)

SERVER_KEY = "fw_SERVERKEY_for_stream_tests"
OPENED = Opened(
    status=200,
    headers={"x-request-id": "req-1"},
    request_id="req-1",
    sampling_options={"temperature": 0.5},
    rate_limits={},
    server_ttft=0.01,
)


class FakeClient:
    """An upstream that yields the given batches (a pause between them), and records what it was sent."""

    def __init__(self, batches: list[list[Event]], pause: float = 0.005, fail: Exception | None = None):
        self.batches = batches
        self.pause = pause
        self.fail = fail
        self.bodies: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.closed = False

    def __call__(self, api_key: str) -> FakeClient:
        self.keys.append(api_key)
        return self

    async def stream_batches(
        self, body: dict[str, Any], *, endpoint: str = "chat"
    ) -> AsyncGenerator[list[Event]]:
        self.bodies.append(json.loads(json.dumps(body)))
        try:
            for batch in self.batches:
                await asyncio.sleep(self.pause)
                yield batch
            if self.fail is not None:
                raise self.fail
        finally:
            self.closed = True


class Hooks:
    """The socket's side: keeps the frames as the page would get them."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.opened = self.closed = 0

    async def send_stream_frame(self, run: StreamRun, frame: dict[str, Any]) -> None:
        self.frames.append(json.loads(json.dumps(frame)))

    async def stream_opened(self, run: StreamRun) -> None:
        self.opened += 1

    async def stream_closed(self, run: StreamRun) -> None:
        self.closed += 1

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in expand(self.frames) if f["type"] == kind]


@pytest.fixture
def ada(transactional_db: None) -> Any:
    return get_user_model().objects.create_user("ada", password="pw-for-tests-only")


def make_run(user: Any, client: FakeClient, hooks: Hooks, **frame: Any) -> StreamRun:
    start = parse_start(
        {
            "type": "chat.start",
            "stream": "s1",
            "model": "accounts/fireworks/models/llama-v3p1-8b-instruct",
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
            "params": {"temperature": 0.5},
            **frame,
        }
    )
    return StreamRun(
        start, user=user, workspace_id=None, hooks=hooks, client_factory=client, server_key=SERVER_KEY
    )


async def saved(run_id: int) -> Run:
    return await database_sync_to_async(Run.objects.select_related("message").get)(pk=run_id)


def tool_call_stream() -> list[list[Event]]:
    """A get_weather call whose arguments arrive in fragments, with no text at all."""
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    pieces = ['{"ci', 'ty": ', '"Par', 'is"}']
    return [
        [OPENED],
        [Delta(choice=0, tool_calls=[call])],
        *[[Delta(choice=0, tool_calls=[{"index": 0, "function": {"arguments": p}}])] for p in pieces],
        [
            Finish(choice=0, reason="tool_calls"),
            Usage(prompt_tokens=20, completion_tokens=12, total_tokens=32),
        ],
        [Done(finish_reasons={0: "tool_calls"}, saw_done_marker=True, response_id="r1", model="m")],
    ]


async def test_a_whole_stream_through_the_lifecycle_object(ada: Any) -> None:
    client, hooks = FakeClient(tool_call_stream()), Hooks()
    run = make_run(ada, client, hooks)
    await run()

    # The exact body the upstream received, with the server's key.
    assert client.bodies == [run.start.body] and client.keys == [""]
    assert client.bodies[0]["messages"] == [{"role": "user", "content": "What is the weather in Paris?"}]
    assert client.bodies[0]["temperature"] == 0.5 and client.bodies[0]["stream"] is True
    assert client.closed and hooks.opened == hooks.closed == 1
    kinds = [f["type"] for f in expand(hooks.frames)]
    assert kinds[:2] == ["chat.started", "chat.opened"] and kinds[-1] == "chat.done"
    assert all(not check(f) for f in hooks.frames), [check(f) for f in hooks.frames]
    done = hooks.of("chat.done")[0]
    assert done["status"] == "done" and done["finish_reasons"] == {"0": "tool_calls"}
    # The figures: 5 deltas over the decode time, tokens from the usage; positive, never negative.
    timings = done["timings"]
    assert timings["chunks"] == 5 and timings["tokens"] == 12
    assert timings["tokens_per_second"] is not None and timings["tokens_per_second"] > 0
    assert timings["ttft_ms"] == hooks.of("chat.delta")[0]["t"]

    row = await saved(done["run"])
    assert row.status == "done" and row.timings == timings
    assert row.message.tool_calls == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    # The saved timeline is the frames the page got after chat.started, the last without the run's ids.
    sent = [{k: v for k, v in f.items() if k != "stream"} for f in expand(hooks.frames)[1:]]
    sent[-1] = {k: v for k, v in sent[-1].items() if k not in ("run", "message_id", "message_ids")}
    assert row.timeline == [{k: v for k, v in f.items() if k != "logprobs"} for f in sent]


async def test_tokens_per_second_is_never_negative_while_tool_arguments_stream(ada: Any) -> None:
    hooks = Hooks()
    # No usage: the deltas are the token count; every figure along the way is checked too.
    batches = [b for b in tool_call_stream() if not any(isinstance(e, Usage) for e in b)]
    run = make_run(ada, FakeClient(batches), hooks)
    await run()
    rate = hooks.of("chat.done")[0]["timings"]["tokens_per_second"]
    assert rate is not None and rate > 0
    record = run.record
    assert record.figures()["tokens_per_second"] > 0


async def test_an_upstream_error_mid_stream_keeps_the_text_and_ends_in_error(ada: Any) -> None:
    hooks = Hooks()
    fail = UpstreamHTTPError(
        "Fireworks returned 503: overloaded.", status=503, code="overloaded", retryable=True
    )
    client = FakeClient(
        [[OPENED], [Delta(choice=0, content="Partly ")], [Delta(choice=0, content="said")]], fail=fail
    )
    run = make_run(ada, client, hooks)
    await run()
    [error] = hooks.of("chat.error")
    assert error["code"] == "overloaded" and error["retryable"] is True and error["run"]
    row = await saved(error["run"])
    assert row.status == "error" and row.message.content == "Partly said" and client.closed
    assert row.timeline[-1]["type"] == "chat.error"


async def test_stop_closes_the_upstream_and_saves_the_partial_reply(ada: Any) -> None:
    hooks = Hooks()
    client = FakeClient([[OPENED], *[[Delta(choice=0, content=f"w{i} ")] for i in range(200)]], pause=0.01)
    three = asyncio.Event()
    send = hooks.send_stream_frame

    async def watching(run: StreamRun, frame: dict[str, Any]) -> None:
        await send(run, frame)
        if len(hooks.of("chat.delta")) >= 3:
            three.set()

    hooks.send_stream_frame = watching  # type: ignore[method-assign]
    task = asyncio.create_task(make_run(ada, client, hooks)())
    await asyncio.wait_for(three.wait(), 5)
    task.cancel()
    await task
    assert client.closed
    [done] = hooks.of("chat.done")
    assert done["status"] == "stopped"
    shown = "".join(f["content"] for f in hooks.of("chat.delta"))
    assert (await saved(done["run"])).message.content == shown


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (Delta(choice=3_000_000, content="x"), "choice index 3000000"),
        (Delta(choice=99_999_999_999, content="x"), "choice index 99999999999"),
        (
            Delta(choice=0, tool_calls=[{"index": "0", "function": {"arguments": "{}"}}]),
            "tool call with index '0'",
        ),
        (
            Delta(choice=0, tool_calls=[{"index": None, "function": {"arguments": "{}"}}]),
            "tool call with index None",
        ),
        (
            Delta(choice=0, tool_calls=[{"index": 10**9, "function": {"arguments": "{}"}}]),
            "tool call with index",
        ),
    ],
)
async def test_hostile_indexes_end_the_stream_with_a_protocol_error(
    ada: Any, event: Delta, says: str
) -> None:
    hooks = Hooks()
    client = FakeClient(
        [[OPENED], [Delta(choice=0, content="Before")], [event], [Delta(choice=0, content="!")]]
    )
    run = make_run(ada, client, hooks)
    await asyncio.wait_for(run(), 5)
    [error] = hooks.of("chat.error")
    assert error["code"] == "protocol_error" and says in error["message"]
    row = await saved(error["run"])
    assert row.status == "error" and row.message.content == "Before" and client.closed
    # Nothing was kept per index: the record holds the one choice asked for.
    assert list(run.record.choices) == [0]


async def test_a_key_echoed_by_the_upstream_is_never_saved(ada: Any) -> None:
    hooks = Hooks()
    echo = Opened(
        status=200,
        headers={"x-echo": f"Bearer {SERVER_KEY}"},
        request_id="r",
        sampling_options=None,
        rate_limits={},
    )
    client = FakeClient(
        [[echo], [Delta(choice=0, content=f"your key is {SERVER_KEY}")], [Done({0: "stop"}, True)]]
    )
    await make_run(ada, client, hooks)()
    [done] = hooks.of("chat.done")
    row = await saved(done["run"])
    stored = json.dumps([row.timeline, row.output, row.response_headers, row.message.content])
    assert SERVER_KEY not in stored and "[redacted]" in stored


async def test_a_removed_member_gets_a_clear_error_not_an_internal_one(ada: Any) -> None:
    team = await database_sync_to_async(Workspace.objects.create)(name="Team")
    hooks, client = Hooks(), FakeClient([[OPENED]])
    start = parse_start(
        {"type": "chat.start", "stream": "s1", "messages": [{"role": "user", "content": "Hi"}]}
    )
    run = StreamRun(start, user=ada, workspace_id=team.pk, hooks=hooks, client_factory=client)
    await run()
    [error] = hooks.of("chat.error")
    assert (error["code"], error["param"]) == ("not_found", "workspace")
    assert client.bodies == [] and hooks.opened == 0


async def test_the_run_is_costed_at_its_workspaces_price(ada: Any) -> None:
    from playground.pricing.services import model_price_set

    personal = await database_sync_to_async(Workspace.objects.get)(personal_for=ada)
    await database_sync_to_async(model_price_set)(
        user=ada,
        workspace_id=personal.pk,
        model="accounts/fireworks/models/llama-v3p1-8b-instruct",
        kind="override",
        input="2",
        cached_input="0.5",
        output="10",
    )
    client, hooks = FakeClient(tool_call_stream()), Hooks()
    run = make_run(ada, client, hooks)
    await run()
    opened, done = hooks.of("chat.opened")[0], hooks.of("chat.done")[0]
    assert opened["price"] == {"input": 2.0, "cached_input": 0.5, "output": 10.0}
    # 20 prompt tokens at $2 and 12 completion tokens at $10 per million.
    assert done["timings"]["cost"] == {
        "input": 20 * 2 / 1e6,
        "cached_input": 0.0,
        "output": 12 * 10 / 1e6,
        "total": 20 * 2 / 1e6 + 12 * 10 / 1e6,
    }
    assert (await saved(done["run"])).timings["cost"] == done["timings"]["cost"]


async def test_a_conversation_deleted_while_it_streams_ends_the_stream_with_a_clear_error(ada: Any) -> None:
    from playground.models import Conversation

    class DeletingHooks(Hooks):
        async def send_stream_frame(self, run: StreamRun, frame: dict[str, Any]) -> None:
            await super().send_stream_frame(run, frame)
            if frame["type"] == "chat.started":  # the owner deletes it from another tab
                await database_sync_to_async(Conversation.objects.filter(pk=frame["conversation"]).delete)()

    client, hooks = FakeClient(tool_call_stream()), DeletingHooks()
    run = make_run(ada, client, hooks)
    await run()

    last = expand(hooks.frames)[-1]
    assert last["type"] == "chat.error" and last["code"] == "not_found"
    assert "deleted while this reply streamed" in last["message"]
    assert client.closed and hooks.closed == 1
    assert not await database_sync_to_async(Run.objects.filter(pk=run.run_id).exists)()


class ConnectingClient(FakeClient):
    """An upstream reached after a connection takes ``connect`` seconds; it says when the request left
    (as the real transport does, ``REQUEST_SENT``) unless ``tells`` is false."""

    def __init__(self, batches: list[list[Event]], order: list[str], connect: float, tells: bool = True):
        super().__init__(batches)
        self.order, self.connect, self.tells = order, connect, tells

    async def stream_batches(
        self, body: dict[str, Any], *, endpoint: str = "chat"
    ) -> AsyncGenerator[list[Event]]:
        await asyncio.sleep(self.connect)
        self.order.append("request left")
        sent = REQUEST_SENT.get()
        if self.tells and sent is not None:
            sent.set()
        async for batch in super().stream_batches(body, endpoint=endpoint):
            yield batch


def record_openings(monkeypatch: pytest.MonkeyPatch, order: list[str]) -> None:
    opened = StreamRun._open_run

    def open_run(self: StreamRun) -> Any:
        order.append("run opened")
        return opened(self)

    monkeypatch.setattr(StreamRun, "_open_run", open_run)


async def test_the_run_is_opened_once_the_request_has_left(ada: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The opening runs on a thread: started while the request was still being written, it held the
    # interpreter and the request left after it (4 ms later on SQLite).
    order: list[str] = []
    record_openings(monkeypatch, order)
    hooks = Hooks()
    client = ConnectingClient(
        [[OPENED], [Delta(choice=0, content="Hi")], [Finish(choice=0, reason="stop")]], order, 0.02
    )
    await make_run(ada, client, hooks)()
    assert order == ["request left", "run opened"]
    assert [f["type"] for f in expand(hooks.frames)][-1] == "chat.done"
    assert (await saved(hooks.of("chat.done")[0]["run"])).message.content == "Hi"


async def test_a_client_that_never_says_its_request_left_still_gets_its_run(
    ada: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The opening waits SEND_WAIT_S at most: a slow connection or a client without the signal delays
    # nothing the user sees.
    order: list[str] = []
    record_openings(monkeypatch, order)
    hooks = Hooks()
    client = ConnectingClient(
        [[OPENED], [Delta(choice=0, content="Hi")], [Finish(choice=0, reason="stop")]],
        order,
        0.3,
        tells=False,
    )
    await make_run(ada, client, hooks)()
    assert order == ["run opened", "request left"]
    assert [f["type"] for f in expand(hooks.frames)][:2] == ["chat.started", "chat.opened"]
    assert (await saved(hooks.of("chat.done")[0]["run"])).message.content == "Hi"
