"""Compare mode on the websocket: several columns streaming at once on one socket, one stopped early.

The others must complete with their full text, the stopped one must be saved stopped with what it
showed, and every column's run is its own conversation (what a saved comparison groups).
"""

from __future__ import annotations

from typing import Any

import pytest

from playground.models import Run
from tests.test_consumers import (  # noqa: F401  (fixtures)
    connect,
    of,
    saved_run,
    session_cookie,
    text_of,
    upstream_settings,
    user,
    wait_for_stream_end,
)

pytestmark = pytest.mark.django_db(transaction=True)

COLUMNS = {
    "col-a": {"max_tokens": 400, "temperature": 0.2},
    "col-b": {"max_tokens": 10, "temperature": 0.7, "seed": 2},
    "col-c": {"max_tokens": 14, "temperature": 1.2, "seed": 3},
    "col-d": {"max_tokens": 8, "top_p": 0.5},
}


async def test_four_columns_on_one_socket_one_stopped_early(
    connect: Any,  # noqa: F811  (the fixture imported above)
    emulator: Any,
) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=40)
    ws = await connect()
    for stream, params in COLUMNS.items():
        await ws.start(stream, params=params, system="Be brief.")
    frames: list[dict[str, Any]] = []

    # Every column starts, and the first one streams, before it is stopped.
    def ready() -> bool:
        started = all(of(frames, s, "chat.started") for s in COLUMNS)
        return started and len(of(frames, "col-a", "chat.delta")) >= 3

    while not ready():
        frames.append(await ws.receive())
    assert not of(frames, "col-a", "chat.done")
    await ws.send({"type": "chat.stop", "stream": "col-a"})
    ends: dict[str, dict[str, Any]] = {}
    while len(ends) < len(COLUMNS):
        frame = await ws.receive()
        frames.append(frame)
        if frame["type"] in ("chat.done", "chat.error"):
            ends[frame["stream"]] = frame
    assert {s: e["status"] for s, e in ends.items()} == {
        "col-a": "stopped",
        "col-b": "done",
        "col-c": "done",
        "col-d": "done",
    }
    runs = {s: await saved_run(e["run"]) for s, e in ends.items()}
    assert len({r.conversation_id for r in runs.values()}) == len(COLUMNS)
    for stream, params in COLUMNS.items():
        run = runs[stream]
        assert run.message.content == text_of(frames, stream)
        assert run.request["temperature" if "temperature" in params else "top_p"] == params.get(
            "temperature", params.get("top_p")
        )
        assert [e.get("content") for e in run.timeline if e["type"] == "chat.delta" and e["choice"] == 0] == [
            f.get("content") for f in of(frames, stream, "chat.delta")
        ]
        if stream != "col-a":
            assert ends[stream]["finish_reasons"] == {"0": "length"}
            assert run.usage["completion_tokens"] == params["max_tokens"]
            assert run.sampling_options["max_tokens"] == params["max_tokens"]
    assert runs["col-a"].status == Run.Status.STOPPED
    assert len(runs["col-a"].message.content) > 0
    # The stopped column's upstream request was closed; the rest ended on their own.
    ended = await wait_for_stream_end(emulator, count=4)
    assert sorted(s["end"] for s in ended).count("client_disconnected") == 1
