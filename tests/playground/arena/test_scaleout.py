"""The arena across two daphne processes on PostgreSQL and Redis: the stage on process A sends a round,
a phone on process B watches it live (and one that joins mid-stream gets the snapshot), votes there, and
the tally reaches the stage on A; the reveal reaches B. Skips (or fails under CI) like
tests/playground/management/test_scaleout.py, whose throwaway database, Redis prefix and servers it uses."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx

from tests.emulator_fixture import EmulatorServer
from tests.frames import expand
from tests.playground.management.test_scaleout import (  # noqa: F401  (fixtures)
    SharedServer,
    backends,
    run_in,
    session_cookie,
)
from tests.playground.management.test_scaleout import servers as servers  # the fixture

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


class ArenaClient:
    """A websocket on one process's /ws/arena/, keeping every frame."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.raw: list[str] = []

    @classmethod
    async def open(cls, server: SharedServer, cookie: str = "") -> ArenaClient:
        import websockets

        url = server.url.replace("http://", "ws://") + "/ws/arena/"
        headers = {"Cookie": cookie} if cookie else {}
        return cls(await websockets.connect(url, origin=server.url, additional_headers=headers))

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def until(self, test: Any, wait: float = 15) -> dict[str, Any]:
        while True:
            text = await asyncio.wait_for(self.ws.recv(), wait)
            self.raw.append(text)
            frame = json.loads(text)
            self.frames.append(frame)
            if test(frame):
                return frame

    def texts(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in expand(self.frames):
            if f["type"] == "chat.delta":
                out[f["stream"]] = out.get(f["stream"], "") + f.get("content", "")
        for snap in (f for f in self.frames if f["type"] == "arena.snapshot"):
            before = "".join(
                f.get("content", "") for f in expand(snap["frames"]) if f["type"] == "chat.delta"
            )
            after = [
                f for f in expand(self.frames) if f["type"] == "chat.delta" and f["stream"] == snap["stream"]
            ]
            out[snap["stream"]] = before + "".join(f.get("content", "") for f in after if f["i"] > snap["i"])
        return out


def voting(frame: dict[str, Any]) -> bool:
    return frame["type"] == "arena.prompt" and frame["status"] == "voting"


async def test_a_round_on_process_a_is_watched_and_voted_on_process_b(
    servers: tuple[SharedServer, SharedServer], emulator: EmulatorServer
) -> None:
    a, b = servers
    username = f"presenter{os.getpid()}"
    cookie = session_cookie(a, username)
    made = run_in(
        a,
        "from django.contrib.auth import get_user_model; from playground.arena.services import arena_create;"
        f"u = get_user_model().objects.get(username={username!r});"
        "x = arena_create(user=u, workspace_id=u.memberships.get().workspace_id, title='Scale',"
        f" configs=[{{'model': {MODEL!r}, 'params': {{'max_tokens': 60}}}},"
        f" {{'model': {MODEL!r}, 'params': {{'max_tokens': 60, 'temperature': 1.1}}}}],"
        " prompts=['Hi there']);"
        "print(x.pk, x.share_token)",
    )
    arena_id, token = made.split()
    # The phone's voter cookie comes from process B's audience page.
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{b.url}/a/{token}/")
    voter = f"arena_voter={page.cookies['arena_voter']}"

    stage = await ArenaClient.open(a, cookie)
    phone = await ArenaClient.open(b, voter)
    late = await ArenaClient.open(b)
    try:
        await stage.send({"type": "arena.join", "arena": int(arena_id)})
        await stage.until(lambda f: f["type"] == "arena.state")
        await phone.send({"type": "arena.join", "token": token})
        await phone.until(lambda f: f["type"] == "arena.state")
        emulator.configure(ttft_ms=50, tokens_per_second=40)  # about 1.5 s of tokens
        await stage.send({"type": "arena.send", "prompt": 0})
        deltas = 0
        while deltas < 10:
            frame = await stage.until(lambda f: f["type"] in ("chat.delta", "chat.deltas"))
            deltas += len(expand([frame]))
        await late.send({"type": "arena.join", "token": token})
        await asyncio.gather(stage.until(voting), phone.until(voting), late.until(voting))
        # Process B's phones have both answers exactly as the stage on A (the late one through its snapshot).
        assert len(stage.texts()) == 2
        assert phone.texts() == stage.texts()
        assert any(f["type"] == "arena.snapshot" for f in late.frames)
        assert late.texts() == stage.texts()
        # A vote on B: the tally reaches the stage on A through Redis (not the phones).
        await phone.send({"type": "arena.vote", "prompt": 0, "choice": "B"})
        await phone.until(lambda f: f["type"] == "arena.voted")
        tally = await stage.until(lambda f: f["type"] == "arena.tally")
        assert tally["counts"] == {"A": 0, "B": 1, "tie": 0, "bad": 0}
        await stage.send({"type": "arena.close", "prompt": 0})
        await stage.send({"type": "arena.reveal", "prompt": 0})
        revealed = await phone.until(lambda f: f["type"] == "arena.prompt" and f["status"] == "revealed")
        assert {info["model"] for info in revealed["reveal"].values()} == {MODEL}
        assert not any(f["type"] == "arena.tally" for f in phone.frames + late.frames)
        assert not any("temperature" in text for text in phone.raw + late.raw)
    finally:
        for client in (stage, phone, late):
            await client.ws.close()
