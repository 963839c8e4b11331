"""Load the real recorded Fireworks exchanges (vcrpy YAML cassettes) as plain data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FIXTURES_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "fireworks-recorded"


@dataclass(frozen=True)
class Recorded:
    """One recorded exchange: what was asked and exactly what came back."""

    name: str
    method: str
    uri: str
    request_body: dict[str, Any]
    status: int
    headers: dict[str, str]  # lower-cased names, first value
    body: str

    @property
    def path(self) -> str:
        """The path after the base URL, e.g. ``/chat/completions``."""
        return self.uri.split("/inference/v1", 1)[1]

    @property
    def is_stream(self) -> bool:
        """Whether the response is server-sent events."""
        return self.headers.get("content-type", "").startswith("text/event-stream")

    def sse_data(self) -> list[str]:
        """The ``data:`` payloads of a recorded stream, in order (``[DONE]`` included)."""
        return [line[len("data: ") :] for line in self.body.splitlines() if line.startswith("data: ")]


@cache
def load(name: str) -> Recorded:
    """Load ``<name>.yaml`` from the recorded fixtures."""
    raw = yaml.safe_load((FIXTURES_DIR / f"{name}.yaml").read_text())
    interaction = raw["interactions"][0]
    request, response = interaction["request"], interaction["response"]
    return Recorded(
        name=name,
        method=request["method"],
        uri=request["uri"],
        request_body=json.loads(request["body"]),
        status=response["status"]["code"],
        headers={k.lower(): v[0] for k, v in response["headers"].items()},
        body=response["body"]["string"],
    )


def names() -> list[str]:
    """Every recorded exchange's name; a missing fixtures folder is an error, never an empty list."""
    found = sorted(p.stem for p in FIXTURES_DIR.glob("*.yaml"))
    if not found:
        raise FileNotFoundError(
            f"No recorded Fireworks fixtures in {FIXTURES_DIR}: the project expects ../shared beside it."
        )
    return found
