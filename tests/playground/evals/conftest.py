"""Fixtures of the eval tests: a user with a workspace, the emulator as the upstream, a test set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from playground.evals import services
from playground.evals.models import EvalRun
from playground.models import personal_workspace_of
from tests.emulator_fixture import EmulatorServer

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
OTHER = "accounts/fireworks/models/llama-v3p3-70b-instruct"
PROMPT = {
    "label": "v1",
    "start": {
        "system": "Answer in one word.",
        "messages": [{"role": "user", "content": "What is {{question}}?"}],
    },
}


@pytest.fixture
def ada(transactional_db: None) -> Any:
    return get_user_model().objects.create_user("ada")


@pytest.fixture
def upstream(emulator: EmulatorServer, settings: Any) -> Iterator[EmulatorServer]:
    """The emulator as the upstream, keeping a log of up to 1,000 requests."""
    settings.FIREWORKS_BASE_URL = emulator.base_url
    settings.FIREWORKS_API_KEY = ""
    app = emulator.server.config.app
    kept = app.stream_history, app.request_history
    app.stream_history = app.request_history = 1000
    app.reset()
    emulator.configure(ttft_ms=5, tokens_per_second=2000, chunk_tokens=4, seed=7)
    yield emulator
    app.stream_history, app.request_history = kept
    app.reset()


def make_eval(user: Any, rows: int, *, configs: list[dict[str, Any]] | None = None, **kwargs: Any) -> EvalRun:
    workspace = personal_workspace_of(user.pk)
    table = [{"values": {"question": f"q{i}"}, "expected": "zorble"} for i in range(rows)]
    return services.eval_create(
        user=user,
        workspace_id=workspace.pk,
        name="capitals",
        variables=["question"],
        rows=table,
        prompts=[PROMPT],
        configs=configs
        or [
            {"label": "llama", "model": MODEL, "params": {"max_tokens": 12, "temperature": 0}},
            {"label": "qwen", "model": OTHER, "params": {"max_tokens": 12}},
        ],
        **kwargs,
    )
