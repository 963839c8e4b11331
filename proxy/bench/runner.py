"""``manage.py bench``: the whole stack under load, side by side with a direct client (README, "Benchmark").

Three processes besides this one: the emulator at a fixed pace, the playground served by daphne (as
``serve`` runs it) against a throwaway SQLite database, and the client process (``proxy.bench.client``)
that drives the streams. With ``workers`` > 1 the playground is ``serve --workers N`` (N daphne
processes on one listening socket) on a throwaway PostgreSQL database and Redis key prefix
(``proxy.bench.backends``), as several processes must run; the server's CPU and memory are then the sum
of its processes'. For each concurrency level the same streams run straight to the emulator with
httpx (the baseline) and through the playground's websocket; ``proxy.bench.report`` turns the arrival
times and the emulator's known schedule into the figures.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from proxy.bench import report as bench_report
from proxy.bench.backends import (
    DEFAULT_POSTGRESQL,
    DEFAULT_REDIS,
    run_name,
    throwaway_postgresql,
    throwaway_redis_prefix,
)

ROOT = Path(__file__).resolve().parents[2]
MANAGE_PY = ROOT / "manage.py"
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"

# Makes users, each with a signed-in session, in the throwaway database and prints the session keys on
# one line. The streams are spread over them: a user may run 32 streams at once (proxy/consumers.py).
SESSION_CODE = """
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
keys = []
for n in range(16):
    user = get_user_model().objects.create_user(f"bench{n}", password="bench-password")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    keys.append(session.session_key)
print(" ".join(keys))
"""


# Makes one arena of the first bench user (two configurations of the bench model, one prompt) and prints
# its id and its audience token.
ARENA_CODE = """
from django.contrib.auth import get_user_model
from playground.arena.services import arena_create
user = get_user_model().objects.get(username="bench0")
config = {"model": %(model)r, "params": {"max_tokens": %(max_tokens)d}}
arena = arena_create(user=user, workspace_id=user.memberships.get().workspace_id, title="bench",
                     configs=[config, {**config, "params": {**config["params"], "temperature": 1.0}}],
                     prompts=["Benchmark the arena"])
print(arena.pk, arena.share_token)
"""


def make_arena(env: dict[str, Any]) -> tuple[int, str]:
    """A fresh arena in the bench database (each level sends its one prompt once)."""
    code = ARENA_CODE % {"model": env["model"], "max_tokens": env["max_tokens"]}
    out = subprocess.run(
        [sys.executable, str(MANAGE_PY), "shell", "--no-imports", "-c", code],
        env=env["server_env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()[-1]
    arena_id, token = out.split()
    return int(arena_id), token


@dataclasses.dataclass
class BenchConfig:
    """What to run: the emulator's pace, the stream length, the levels and the side measurements."""

    levels: list[int] = dataclasses.field(default_factory=lambda: [1, 10, 100, 500])
    ttft_ms: float = 200.0
    tokens_per_second: float = 50.0
    chunk_tokens: int = 1
    max_tokens: int = 150
    ramp_ms: float = 1000.0
    idle_sockets: int = 200
    stop_streams: int = 20
    stop_after: int = 5
    timeout: float = 120.0
    # Record the server with py-spy (a flame graph written here) during the last level's proxied streams.
    py_spy: str | None = None
    # Keep each level's raw arrival times (and the emulator's records) as raw-<streams>.json here.
    raw_dir: str | None = None
    # Fan-out: one stream watched live by this many viewers, one level each (proxy/bench_fanout.py).
    fanout: list[int] = dataclasses.field(default_factory=lambda: [1, 50, 200])
    # Arena mode: one round of two configurations watched by this many phones, one level each.
    arena: list[int] = dataclasses.field(default_factory=list)
    # Server processes (`serve --workers N`); more than one runs on PostgreSQL and Redis, below.
    workers: int = 1
    database_url: str = DEFAULT_POSTGRESQL
    redis_url: str = DEFAULT_REDIS


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], what: str, *, header: str | None = None) -> None:
    """Poll ``url`` until it answers (with ``header`` if given), for at most 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The {what} exited at once (code {process.returncode}).")
        try:
            response = httpx.get(url, timeout=1.0)
            if header is None or response.headers.get(header):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"The {what} did not answer at {url} within 30 s.")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate one process we started, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextmanager
def stack(config: BenchConfig, workdir: Path) -> Iterator[dict[str, Any]]:
    """Start the emulator and the playground server; yield what the client jobs need; stop both."""
    em_port, port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{em_port}/inference/v1"
    # One record per stream of the run (both paths), so every stream can be matched to its schedule.
    history = 2 * sum(config.levels) + config.stop_streams + 50
    emulator = subprocess.Popen(
        [
            *(sys.executable, str(MANAGE_PY), "emulator", "--port", str(em_port)),
            *("--ttft-ms", str(config.ttft_ms), "--tokens-per-second", str(config.tokens_per_second)),
            *("--chunk-tokens", str(config.chunk_tokens), "--stream-history", str(history)),
            "--fixed-pace",  # no queueing under load, no faster cached prefill: the pace is the bench's
        ],
        stdout=subprocess.DEVNULL,
    )
    server: subprocess.Popen[bytes] | None = None
    backends = ExitStack()
    try:
        wait_for(f"{base_url}/models", emulator, "emulator", header="x-playground-emulator")
        # One process: the embedded default. Several: the state they share, made for this run.
        state = {"DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}", "REDIS_URL": ""}
        if config.workers > 1:
            name = run_name(f"bench_w{config.workers}")
            database = backends.enter_context(throwaway_postgresql(config.database_url, name))
            prefix = backends.enter_context(throwaway_redis_prefix(config.redis_url, name))
            state = {
                "DATABASE_URL": database,
                "REDIS_URL": config.redis_url,
                "PLAYGROUND_CHANNEL_PREFIX": prefix,
            }
        env = {
            **os.environ,
            **state,
            "FIREWORKS_BASE_URL": base_url,
            "FIREWORKS_API_KEY": "",
            "PLAYGROUND_EMULATOR": "1",
            "DJANGO_LOG_LEVEL": "WARNING",
            # One user reuses stream ids from phase to phase: a socket's streams end with it, as measured.
            "PLAYGROUND_RESUME_GRACE_SECONDS": "0",
        }
        manage = [sys.executable, str(MANAGE_PY)]
        subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True)
        sessions = (
            subprocess.run(
                [*manage, "shell", "--no-imports", "-c", SESSION_CODE],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.splitlines()[-1]  # the last line: the shell may print notes before it
            .split()
        )
        # As users run it: `manage.py serve` (daphne), without the emulator it would start.
        server = subprocess.Popen(
            [*manage, "serve", "--no-emulator", "--port", str(port), "--workers", str(config.workers)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,  # the access log
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"http://127.0.0.1:{port}/accounts/login/", server, "playground server")
        yield {
            "server_pids": children(server.pid) if config.workers > 1 else [server.pid],
            "base_url": base_url,
            "emulator_url": f"http://127.0.0.1:{em_port}",
            "ws_url": f"ws://127.0.0.1:{port}/ws/chat/",
            "arena_ws_url": f"ws://127.0.0.1:{port}/ws/arena/",
            "server_env": env,
            "origin": f"http://127.0.0.1:{port}",
            "session": sessions[0],  # the fan-out's owner and viewers: one user
            "sessions": sessions,  # the levels' streams, spread over the users
            "server_pid": server.pid,
            "model": MODEL,
            "max_tokens": config.max_tokens,
            "ramp_ms": config.ramp_ms,
            "timeout": config.timeout,
        }
    finally:
        if server is not None:
            stop_process(server)
        stop_process(emulator)
        backends.close()


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux's /proc)."""
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@contextmanager
def py_spy(pid: int, output: str | None, subprocesses: bool = False) -> Iterator[None]:
    """Record the process (and its children) with py-spy while the block runs (nothing if output is None)."""
    if output is None:
        yield
        return
    exe = Path(sys.executable).with_name("py-spy")
    fmt = {".json": "speedscope", ".txt": "raw"}.get(Path(output).suffix, "flamegraph")
    spy = subprocess.Popen(
        [str(exe), "record", "--pid", str(pid), "--rate", "250", "--format", fmt, "--output", output]
        + (["--subprocesses"] if subprocesses else []),
        stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(5)


def client_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a fresh client process and return its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", job.get("module", "proxy.bench.client")],
        # The server's environment stays here (make_arena): a job carries only what the client needs.
        input=json.dumps({k: v for k, v in job.items() if k != "server_env"}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=job["timeout"] + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"The client process failed ({job['kind']}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def emulator_streams(env: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The emulator's stream records by request id."""
    state = httpx.get(env["emulator_url"] + "/_emulator/state", timeout=30).json()
    return {s["request_id"]: s for s in state["streams"]}


def run(config: BenchConfig, *, log: Any = print) -> dict[str, Any]:
    """The whole benchmark; returns the report (``bench_report.summarise_level`` figures per level)."""
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="playground-bench-") as tmp, stack(config, Path(tmp)) as env:
        # Warm up both paths (imports, first connections, the first run's tables) before measuring.
        for kind in ("direct", "proxy"):
            client_job({**env, "kind": kind, "streams": 2, "ramp_ms": 0})
        idle = client_job({**env, "kind": "idle", "sockets": config.idle_sockets})
        log(f"idle sockets: {config.idle_sockets} open")
        levels = []
        for n in config.levels:
            direct = client_job({**env, "kind": "direct", "streams": n})
            profiling = n == config.levels[-1] and config.py_spy
            spy = config.py_spy if profiling else None
            with py_spy(env["server_pid"], spy, subprocesses=config.workers > 1):
                proxied = client_job({**env, "kind": "proxy", "streams": n})
            records = emulator_streams(env)
            if config.raw_dir:
                raw = {"direct": direct, "proxy": proxied, "emulator": records}
                (Path(config.raw_dir) / f"raw-{n}.json").write_text(json.dumps(raw))
            level = bench_report.summarise_level(n, config, direct, proxied, records)
            levels.append(level)
            log(bench_report.level_line(level))
        stop = client_job(
            {**env, "kind": "stop", "streams": config.stop_streams, "stop_after": config.stop_after}
        )
        stopping = bench_report.summarise_stop(stop, emulator_streams(env))
        fanout = []
        for viewers in config.fanout:
            result = client_job({**env, "kind": "fanout", "module": "proxy.bench.fanout", "viewers": viewers})
            fanout.append(bench_report.summarise_fanout(viewers, result))
            log(bench_report.fanout_line(fanout[-1]))
        arena = []
        for viewers in config.arena:
            arena_id, token = make_arena(env)
            job = {**env, "kind": "arena", "module": "proxy.bench.fanout", "viewers": viewers}
            result = client_job({**job, "arena_id": arena_id, "arena_token": token})
            arena.append(bench_report.summarise_arena(viewers, result))
            log(bench_report.arena_line(arena[-1]))
    return {
        "workers": config.workers,
        "backends": "PostgreSQL + Redis" if config.workers > 1 else "SQLite + in-memory channel layer",
        # Without the database and Redis addresses, which may carry a password.
        "config": {k: v for k, v in dataclasses.asdict(config).items() if not k.endswith("_url")},
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "idle": bench_report.summarise_idle(idle),
        "levels": levels,
        "stop": stopping,
        "fanout": fanout,
        "arena": arena,
    }
