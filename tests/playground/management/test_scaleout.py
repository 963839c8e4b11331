"""Two daphne processes sharing PostgreSQL and Redis: a stream run on one is watched live on the other.

Needs PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust auth) and Redis on 127.0.0.1:6379; the
test creates and drops its own database (``playground_test_<pid>``) and deletes only its own Redis keys
(a prefix of its own). Where they are unreachable it skips, saying so; under CI (env ``CI``) it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ROOT, LiveServer
from tests.emulator_fixture import EmulatorServer
from tests.frames import expand

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_URL = "redis://127.0.0.1:6379/0"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
DB_NAME = f"playground_test_{os.getpid()}{WORKER}"
PREFIX = f"playground_test_{os.getpid()}{WORKER}"


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL/Redis tests not run: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: .ci/run starts them)")
    pytest.skip(message)


def _admin() -> Any:
    import psycopg

    return psycopg.connect(**PG, dbname="postgres", autocommit=True, connect_timeout=3)


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL database and a Redis key prefix of this test process, removed after."""
    import redis

    try:
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except Exception as exc:
        _unavailable(f"PostgreSQL at {PG['host']}:{PG['port']} is unreachable ({exc!r})")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        _unavailable(f"Redis at {REDIS_URL} is unreachable ({exc!r})")
    try:
        yield {
            "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "PLAYGROUND_CHANNEL_PREFIX": PREFIX,
        }
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        for key in client.scan_iter(match=f"{PREFIX}*", count=500):
            client.delete(key)
        client.close()


class SharedServer(LiveServer):
    """A daphne process on PostgreSQL and Redis (several of them share one state)."""

    def __init__(self, emulator: EmulatorServer, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(emulator, workdir)
        self.env.update(env)
        self.env["FIREWORKS_STREAM_GAP_TIMEOUT"] = "5"


@pytest.fixture(scope="module")
def servers(
    backends: dict[str, str], emulator_server: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SharedServer, SharedServer]]:
    """Process A and process B, both serving playground.asgi against the same database and Redis."""
    started: list[SharedServer] = []
    try:
        for name in ("a", "b"):
            server = SharedServer(emulator_server, tmp_path_factory.mktemp(f"daphne-{name}"), backends)
            server.start()
            started.append(server)
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def session_cookie(server: SharedServer, username: str) -> str:
    """A user and a signed-in session, made in the shared database (valid on every process)."""
    code = (
        "from django.contrib.auth import get_user_model; from django.test import Client;"
        f"user = get_user_model().objects.create_user({username!r}); c = Client(); c.force_login(user);"
        "print(c.cookies['sessionid'].value)"
    )
    return f"sessionid={run_in(server, code)}"


class Client:
    """A websocket to one process, keeping each frame with the time it arrived."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[tuple[float, dict[str, Any]]] = []

    @classmethod
    async def open(cls, server: SharedServer, cookie: str) -> Client:
        import websockets

        url = server.url.replace("http://", "ws://") + "/ws/chat/"
        ws = await websockets.connect(url, origin=server.url, additional_headers={"Cookie": cookie})
        return cls(ws)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def receive(self, wait: float = 10) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
        now = time.monotonic()
        self.frames += [(now, item) for item in expand([frame])]
        return frame

    async def until_end(self, stream: str) -> None:
        while True:
            frame = await self.receive()
            if frame.get("stream") == stream and frame["type"] in ("chat.done", "chat.error"):
                return

    def deltas(self, after: int = -1) -> list[tuple[float, dict[str, Any]]]:
        return [(t, f) for t, f in self.frames if f["type"] == "chat.delta" and f["i"] > after]


async def test_a_stream_on_process_a_is_watched_live_on_process_b(
    servers: tuple[SharedServer, SharedServer], emulator: EmulatorServer
) -> None:
    a, b = servers
    cookie = session_cookie(a, f"alice{os.getpid()}")
    owner = await Client.open(a, cookie)
    watcher = await Client.open(b, cookie)
    late = await Client.open(b, cookie)
    try:
        hello = [{"role": "user", "content": "Hi"}]
        first = {"type": "chat.start", "stream": "first", "messages": hello, "params": {"max_tokens": 3}}
        await owner.send(first)
        await owner.until_end("first")
        conversation = next(f["conversation"] for _, f in owner.frames if f["type"] == "chat.started")
        owner.frames.clear()

        await watcher.send({"type": "watch", "conversation": conversation})
        assert await watcher.receive() == {"type": "watch.ok", "conversation": conversation}

        emulator.configure(ttft_ms=50, tokens_per_second=40)  # about 1.5 s of tokens
        await owner.send({"type": "chat.start", "stream": "s1", "conversation": conversation,
                          "messages": [{"role": "user", "content": "Tell me more"}],
                          "params": {"max_tokens": 60}})  # fmt: skip
        watching = asyncio.create_task(watcher.until_end("s1"))
        while len(owner.deltas()) < 10:
            await owner.receive()
        await late.send({"type": "watch", "conversation": conversation})
        assert await late.receive() == {"type": "watch.ok", "conversation": conversation}
        late_watching = asyncio.create_task(late.until_end("s1"))
        await owner.until_end("s1")
        await asyncio.gather(watching, late_watching)
    finally:
        for client in (owner, watcher, late):
            await client.ws.close()

    sent = [f for _, f in owner.deltas()]
    text = "".join(f.get("content", "") for f in sent)
    last = sent[-1]["i"]
    assert [f["i"] for f in sent] == list(range(last + 1)) and last > 30

    # The first watcher (process B) got every delta, in order, as it was generated.
    seen = watcher.deltas()
    assert [(f["i"], f.get("content")) for _, f in seen] == [(f["i"], f.get("content")) for f in sent]
    assert all(f["watching"] and f["conversation"] == conversation for _, f in seen)
    arrivals = {f["i"]: t for t, f in owner.deltas()}
    lag = max(t - arrivals[f["i"]] for t, f in seen)
    assert seen[-1][0] - seen[0][0] > 0.8, "the deltas arrived at once, not as they were generated"
    assert lag < 0.5, f"a delta reached the other process's watcher {lag * 1000:.0f} ms after the owner"
    kinds = [f["type"] for _, f in watcher.frames]
    assert kinds[1] == "chat.started" and kinds[-1] == "chat.done"
    assert {"chat.opened", "chat.usage"} <= set(kinds)

    # The late watcher: a snapshot of the text so far, then the rest, nothing lost or duplicated.
    snapshots = [f for _, f in late.frames if f["type"] == "watch.snapshot"]
    assert len(snapshots) == 1
    snapshot = snapshots[0]
    assert 9 <= snapshot["i"] < last
    rest = [f for _, f in late.frames[late.frames.index(next(x for x in late.frames if x[1] is snapshot)) :]]
    after = [f for f in rest if f["type"] == "chat.delta" and f["i"] > snapshot["i"]]
    assert [f["i"] for f in after] == list(range(snapshot["i"] + 1, last + 1))
    snapped = "".join(f.get("content", "") for f in snapshot["frames"] if f["type"] == "chat.delta")
    assert snapped + "".join(f.get("content", "") for f in after) == text

    # The reply was saved once, in the shared database: process B serves it.
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{b.url}/c/{conversation}/data/", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert text in [message["content"] for message in response.json()["messages"]]


def _wait_until_serving(serve: subprocess.Popen[bytes], server: SharedServer, log: Callable[[], str]) -> None:
    """Until ``serve`` answers (90 s at most); ``log`` says what it printed if it exits or never does."""
    deadline = time.monotonic() + 90
    while True:
        assert serve.poll() is None, log()
        assert time.monotonic() < deadline, log()
        try:
            if httpx.get(f"{server.url}/accounts/login/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _sockets_of(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _process_serving(client_port: int, server_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server side of the TCP connection from ``client_port`` (Linux /proc)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return next((pid for pid in pids if inode in _sockets_of(pid)), None)
    return None


def test_serve_workers_two_processes_on_one_socket_share_streams_and_watching(
    backends: dict[str, str], emulator_server: EmulatorServer, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """`manage.py serve --workers 2`: two daphne processes accept on one port; each serves a stream,
    a watcher on one sees a stream run on the other, and Ctrl-C stops both."""
    if not Path("/proc/self/task").exists():
        pytest.skip("finding which process holds a connection reads Linux's /proc")
    server = SharedServer(emulator_server, tmp_path, backends)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--workers=2", "--no-emulator", f"--port={server.port}"],
            cwd=ROOT,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's job
        )
    workers: list[int] = []
    try:
        _wait_until_serving(serve, server, lambda: log_path.read_text())
        workers = _children(serve.pid)
        assert len(workers) == 2
        cookie = session_cookie(server, f"carol{os.getpid()}")
        asyncio.run(_two_workers_scenario(server, cookie, workers, emulator))
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGINT)  # Ctrl-C in the terminal
        code = serve.wait(30)
    output = log_path.read_text()
    assert code == 0, output
    assert "Traceback" not in output, output
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/accounts/login/", timeout=1)


async def _two_workers_scenario(
    server: SharedServer, cookie: str, workers: list[int], emulator: EmulatorServer
) -> None:
    # Connections land on either process: open sockets until each process holds one.
    sockets: list[Client] = []
    on: dict[int | None, Client] = {}
    try:
        for _ in range(40):
            client = await Client.open(server, cookie)
            sockets.append(client)
            on.setdefault(_process_serving(client.ws.local_address[1], server.port, workers), client)
            if set(workers) <= set(on):
                break
        assert set(workers) <= set(on), f"40 connections, all on {set(on)}"
        a, b = on[workers[0]], on[workers[1]]

        # Each process serves a stream of its own.
        hello = [{"role": "user", "content": "Hi"}]
        await a.send({"type": "chat.start", "stream": "a1", "messages": hello, "params": {"max_tokens": 3}})
        await b.send({"type": "chat.start", "stream": "b1", "messages": hello, "params": {"max_tokens": 3}})
        await asyncio.gather(a.until_end("a1"), b.until_end("b1"))
        for client, stream in ((a, "a1"), (b, "b1")):
            ends = [f for _, f in client.frames if f.get("stream") == stream and f["type"] == "chat.done"]
            assert len(ends) == 1 and client.deltas(), client.frames
        conversation = next(f["conversation"] for _, f in a.frames if f["type"] == "chat.started")
        a.frames.clear()

        # A watcher on process B sees the next stream on process A, delta for delta.
        await b.send({"type": "watch", "conversation": conversation})
        while (await b.receive())["type"] != "watch.ok":
            pass
        b.frames.clear()
        emulator.configure(ttft_ms=50, tokens_per_second=60)
        more = [{"role": "user", "content": "More"}]
        await a.send(
            {"type": "chat.start", "stream": "a2", "conversation": conversation, "messages": more,
             "params": {"max_tokens": 20}}
        )  # fmt: skip
        await asyncio.gather(a.until_end("a2"), b.until_end("a2"))
        sent = [(f["i"], f.get("content")) for _, f in a.deltas()]
        assert len(sent) >= 10
        assert [(f["i"], f.get("content")) for _, f in b.deltas()] == sent
        assert all(f["watching"] for _, f in b.deltas())
    finally:
        for client in sockets:
            await client.ws.close()


def run_in(server: SharedServer, code: str) -> str:
    """Run Python in a management shell against the servers' database and Redis; its last line."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


async def test_revoking_a_link_on_one_process_ends_its_watch_on_another(
    servers: tuple[SharedServer, SharedServer], emulator: EmulatorServer
) -> None:
    import websockets

    a, b = servers
    username = f"rita{os.getpid()}"
    owner = await Client.open(a, session_cookie(a, username))
    try:
        first = {"type": "chat.start", "stream": "r", "messages": [{"role": "user", "content": "Hi"}]}
        await owner.send({**first, "params": {"max_tokens": 3}})
        await owner.until_end("r")
        conversation = next(f["conversation"] for _, f in owner.frames if f["type"] == "chat.started")
        who = f"get_user_model().objects.get(username={username!r})"
        imports = "from django.contrib.auth import get_user_model; from playground.services import sharing;"
        token, link = run_in(
            a,
            imports + f"l = sharing.share_link_create(user={who}, conversation_id={conversation});"
            "print(l.token, l.pk)",
        ).split()
        url = b.url.replace("http://", "ws://") + "/ws/watch/"
        async with websockets.connect(url, origin=b.url) as watcher:
            await watcher.send(json.dumps({"type": "watch", "conversation": conversation, "share": token}))
            assert json.loads(await watcher.recv())["type"] == "watch.ok"
            # Revoked by a third process (a management shell) on the shared database and Redis.
            run_in(a, imports + f"sharing.share_link_revoke(user={who}, share_link_id={link}); print('ok')")
            ended = json.loads(await asyncio.wait_for(watcher.recv(), 2))
            assert ended["type"] == "watch.ended" and ended["conversation"] == conversation
            await owner.send(
                {**first, "stream": "r2", "conversation": conversation, "params": {"max_tokens": 3}}
            )
            await owner.until_end("r2")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(watcher.recv(), 0.5)
    finally:
        await owner.ws.close()


def test_workers_started_from_a_background_job_stop_when_serve_is_killed(
    backends: dict[str, str], emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    """A background job or a script starts ``serve`` with SIGINT ignored, which its workers inherit, and a
    benchmark or a supervisor may kill it outright: its workers stop too (they ran on, orphaned, on the
    port and the database). Ctrl-C and SIGTERM are the test above's and the benchmark's."""
    if not Path("/proc/self/task").exists():
        pytest.skip("finding the worker processes reads Linux's /proc")
    server = SharedServer(emulator_server, tmp_path, backends)
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--workers=2", "--no-emulator", f"--port={server.port}"],
        cwd=ROOT,
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `serve &` from a script
    )
    workers: list[int] = []
    try:
        _wait_until_serving(serve, server, lambda: "")
        workers = _children(serve.pid)
        assert len(workers) == 2
        serve.send_signal(signal.SIGKILL)
        serve.wait(30)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{server.url}/accounts/login/", timeout=1)
    finally:
        for pid in [serve.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie waiting for its parent has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
