"""The offline emulator served over real loopback HTTP, for tests (uvicorn in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from proxy.emulator.app import create_app


class EmulatorServer:
    """A running emulator: its URLs and the control calls the tests use."""

    def __init__(self) -> None:
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP, and without
        # it Nagle plus delayed ACKs add ~40 ms to every response.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/inference/v1"
        config = uvicorn.Config(
            # Every request of a test is kept (a ramp sends 15 per path).
            create_app(request_history=500),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        # One client for the control calls: a new httpx client per call costs an SSL context each time.
        self.client = httpx.Client(base_url=self.root_url, timeout=10)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start within 10 s")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.client.close()

    def inject(self, *faults: dict[str, Any]) -> None:
        """Queue faults; each is used by the next generation request."""
        self.client.post("/_emulator/faults", json={"faults": list(faults)}).raise_for_status()

    def configure(self, **pace: Any) -> None:
        """Set the pace: ttft_ms, tokens_per_second, chunk_tokens, seed."""
        self.client.post("/_emulator/config", json=pace).raise_for_status()

    def state(self) -> dict[str, Any]:
        """The last requests received and how each stream ended."""
        response = self.client.get("/_emulator/state")
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Clear queued faults, the request log, and go back to the default (fast) test pace."""
        self.client.delete("/_emulator/faults").raise_for_status()
        self.client.post("/_emulator/reset").raise_for_status()
        self.configure(**FAST_PACE)


# Fast enough to keep the suite quick, slow enough that a stream can be stopped mid-way. A dedicated
# deployment's cold start is short too (the default is 3 s, which each test's first request to one paid);
# the tests about cold starts set their own.
FAST_PACE = {"ttft_ms": 20, "tokens_per_second": 400, "chunk_tokens": 1, "seed": 7, "cold_start_ms": 50}


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """One emulator for the whole session."""
    server = EmulatorServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session's emulator, reset: no faults queued, the fast test pace, an empty request log."""
    emulator_server.reset()
    return emulator_server
