"""Code export: the generated Python and curl run against the emulator and send the playground's exact body.

The bodies come from the playground itself: a ``chat.start`` through the consumer saves ``Run.request``,
and ``code.render`` returns the body a ``chat.start`` with the same fields would send. Each snippet runs
in a subprocess (the key only in its environment) and the emulator's request log shows what it received.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from playground import codegen
from playground.asgi import application
from playground.models import Run
from proxy.client import client as upstream

API_KEY = "fw_CODEGENTESTKEY"
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
ORIGIN = (b"origin", b"http://127.0.0.1")

# A chat.start exercising registry fields the SDKs know, ones they do not, nesting and extra fields.
CHAT_FIELDS: dict[str, Any] = {
    "mode": "chat",
    "model": MODEL,
    "messages": [
        {"role": "system", "content": 'Be brief. Quote "this" and \\ that; $HOME `x`.'},
        {"role": "user", "content": "Say hello in three words — please ✨"},
        {"role": "assistant", "content": "Hello there, friend."},
        {"role": "user", "content": "Again!\nWith a newline."},
    ],
    "params": {
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 40,
        "repetition_penalty": 1.1,
        "max_tokens": 12,
        "stop": ["\n\nUser:"],
        "seed": 42,
        "logprobs": True,
        "top_logprobs": 2,
        "response_format": {"type": "json_object"},
    },
    "extra": {"prompt_cache_key": "demo-key", "metadata": {"team": "docs"}},
}
COMPLETIONS_FIELDS: dict[str, Any] = {
    "mode": "completions",
    "model": MODEL,
    "prompt": "Once upon a time, 'quoted' and \"double\"",
    "params": {"temperature": 0.2, "max_tokens": 8, "echo": True, "min_p": 0.05},
    "extra": {"prompt_truncate_len": 500},
}


def run_snippet(
    language: str, code: str, tmp_path: Path, base_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one snippet as a user would: the key (and, if given, the base URL) only in the environment."""
    env = {**os.environ, "FIREWORKS_API_KEY": API_KEY}
    env.pop("FIREWORKS_BASE_URL", None)
    if base_url:
        env["FIREWORKS_BASE_URL"] = base_url
    if language == "curl":
        command = ["bash", "-c", code]
    else:
        path = tmp_path / f"{language}.py"
        path.write_text(code)
        command = [sys.executable, str(path)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def received_bodies(emulator: Any) -> list[dict[str, Any]]:
    return [r["body"] for r in emulator.state()["requests"] if r["path"].endswith("completions")]


# --- pure functions ---------------------------------------------------------------------------------


def test_sdk_keywords_exist_in_the_installed_sdks() -> None:
    from fireworks import Fireworks
    from openai import OpenAI

    def keywords(method: Any) -> set[str]:
        return set(inspect.signature(method).parameters)

    openai_client, fireworks_client = OpenAI(api_key="x"), Fireworks(api_key="x")
    assert keywords(openai_client.chat.completions.create) >= codegen.OPENAI_CHAT_KWARGS
    assert keywords(openai_client.completions.create) >= codegen.OPENAI_COMPLETIONS_KWARGS
    assert keywords(fireworks_client.chat.completions.create) >= codegen.FIREWORKS_CHAT_KWARGS
    assert keywords(fireworks_client.completions.create) >= codegen.FIREWORKS_COMPLETIONS_KWARGS


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_snippets_compile_and_never_inline_the_key(endpoint: Any, stream: bool, tmp_path: Path) -> None:
    body = {"model": MODEL, "stream": stream, "temperature": 0.5, "mirostat_target": 3.0}
    body |= {"messages": [{"role": "user", "content": "hi"}]} if endpoint == "chat" else {"prompt": "hi"}
    out = codegen.snippets(body, endpoint=endpoint, base_url="https://api.fireworks.ai/inference/v1")
    assert list(out) == [key for key, _ in codegen.LANGUAGES]
    for language in ("python_openai", "python_fireworks"):
        compile(out[language], language, "exec")
        assert 'os.environ["FIREWORKS_API_KEY"]' in out[language]
    assert "extra_body" in out["python_openai"]  # mirostat_target is no OpenAI keyword
    fireworks_base = (
        'os.environ.get("FIREWORKS_BASE_URL", "https://api.fireworks.ai/inference/v1").removesuffix("/v1")'
    )
    assert fireworks_base in out["python_fireworks"]  # the SDK adds /v1 itself
    assert "${FIREWORKS_BASE_URL:-https://api.fireworks.ai/inference/v1}" in out["curl"]
    assert "process.env.FIREWORKS_BASE_URL ??" in out["javascript"]
    assert "process.env.FIREWORKS_API_KEY" in out["javascript"]
    assert "$FIREWORKS_API_KEY" in out["curl"]
    assert ("--no-buffer" in out["curl"]) is stream
    assert ("for chunk in stream" in out["python_openai"]) is stream
    node = shutil.which("node")
    if node:
        path = tmp_path / "example.mjs"
        path.write_text(out["javascript"])
        subprocess.run([node, "--check", str(path)], check=True, capture_output=True, timeout=30)


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_javascript_literal_is_the_same_body() -> None:
    """The JS snippet is not run (the openai npm package would need a download); its body is evaluated."""
    body = {**CHAT_FIELDS, "top-k": 1, "logit_bias": {"123": -5.5}, "empty": {}, "none": None, "n": [1, [2]]}
    body["messages"] = [*CHAT_FIELDS["messages"], {"role": "user", "content": "x" * 120}]
    script = f"process.stdout.write(JSON.stringify({codegen.js_literal(body)}))"
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(result.stdout) == body


def test_fireworks_sdk_base_url_without_v1_says_so() -> None:
    assert (
        codegen.fireworks_base_url("https://api.fireworks.ai/inference/v1/")
        == "https://api.fireworks.ai/inference"
    )
    code = codegen.python_fireworks(
        {"model": "m", "prompt": "x"}, endpoint="completions", base_url="http://h/api"
    )
    assert "does not end in /v1" in code
    compile(code, "fw", "exec")


@pytest.mark.parametrize("stream", [True, False])
def test_hand_built_bodies_round_trip(emulator: Any, tmp_path: Path, stream: bool) -> None:
    """Non-streaming too (the playground always streams, but saved requests may not)."""
    emulator.configure(ttft_ms=1, tokens_per_second=5000)
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "stream": stream,
        "typical_p": 0.5,
        "thinking": None,
    }
    out = codegen.snippets(body, endpoint="chat", base_url=emulator.base_url)
    for language in ("python_openai", "python_fireworks", "curl"):
        emulator.reset()
        result = run_snippet(language, out[language], tmp_path)
        assert result.returncode == 0, (language, result.stderr)
        assert "[offline emulator]" in result.stdout, (language, result.stdout)
        assert received_bodies(emulator) == [body], language


# --- through the playground -------------------------------------------------------------------------


@pytest.fixture
async def socket(
    settings: Any, emulator: Any, transactional_db: None
) -> AsyncIterator[WebsocketCommunicator]:
    settings.FIREWORKS_BASE_URL = emulator.base_url
    settings.FIREWORKS_API_KEY = API_KEY
    settings.PLAYGROUND_EMULATOR = True
    cache.clear()
    user = await database_sync_to_async(get_user_model().objects.create_user)("coder")
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    yield communicator
    await communicator.disconnect()
    for pooled in list(upstream._SHARED.get(asyncio.get_running_loop(), {}).values()):
        await pooled.aclose()


async def frames_until(
    ws: WebsocketCommunicator, stream: str, kinds: tuple[str, ...]
) -> list[dict[str, Any]]:
    got = []
    while True:
        frame = json.loads(await ws.receive_from(10))
        got.append(frame)
        if frame.get("stream") == stream and frame["type"] in kinds:
            return got


@pytest.mark.parametrize("fields", [CHAT_FIELDS, COMPLETIONS_FIELDS], ids=["chat", "completions"])
async def test_saved_run_code_sends_the_same_body(
    socket: WebsocketCommunicator, emulator: Any, tmp_path: Path, fields: dict[str, Any], close_upstream: None
) -> None:
    emulator.configure(ttft_ms=1, tokens_per_second=5000)
    # What the page shows before sending: code.render answers with the body and the code, sending nothing.
    await socket.send_to(text_data=json.dumps({"type": "code.render", "stream": "c1", **fields}))
    [rendered] = await frames_until(socket, "c1", ("code.rendered", "chat.error"))
    assert rendered["type"] == "code.rendered", rendered
    assert received_bodies(emulator) == []
    assert set(rendered["snippets"]) == {key for key, _ in codegen.LANGUAGES}

    await socket.send_to(text_data=json.dumps({"type": "chat.start", "stream": "s1", **fields}))
    frames = await frames_until(socket, "s1", ("chat.done", "chat.error"))
    assert frames[-1]["type"] == "chat.done", frames[-1]
    run = await database_sync_to_async(Run.objects.get)(pk=frames[-1]["run"])
    [sent_by_playground] = received_bodies(emulator)
    assert run.request == sent_by_playground == rendered["request"]
    assert run.request["stream"] is True

    out = codegen.snippets(run.request, endpoint=run.endpoint, **codegen.codegen_urls())
    assert out == rendered["snippets"]
    # Code from an emulator session defaults to Fireworks itself and says how to reach the emulator.
    for language, code in out.items():
        assert f"FIREWORKS_BASE_URL={emulator.base_url}" in code.splitlines()[1], language
        assert codegen.PUBLIC_BASE_URL in code, language
    for language in ("python_openai", "python_fireworks", "curl"):
        await asyncio.to_thread(emulator.reset)
        result = await asyncio.to_thread(run_snippet, language, out[language], tmp_path, emulator.base_url)
        assert result.returncode == 0, (language, result.stderr)
        # The reply printed (JSON here: response_format asks for an object).
        assert "offline" in result.stdout, (language, result.stdout[:500])
        assert API_KEY not in out[language]
        received = await asyncio.to_thread(received_bodies, emulator)
        assert received == [run.request], language


async def test_code_render_refuses_out_of_range_values(socket: WebsocketCommunicator) -> None:
    frame = {"type": "code.render", "stream": "c2", **CHAT_FIELDS, "params": {"temperature": 3}}
    await socket.send_to(text_data=json.dumps(frame))
    [error] = await frames_until(socket, "c2", ("code.rendered", "chat.error"))
    assert error["type"] == "chat.error"
    assert error["code"] == "invalid_param" and error["param"] == "temperature"
    assert "between 0 and 2" in error["message"]


# --- the Responses API: client.responses.create with the same body, and curl to /responses ---------

RESPONSES_BODY = {
    "model": "m",
    "input": [{"role": "user", "content": "hi"}],
    "previous_response_id": "resp_1",
    "stream": True,
}


def test_responses_snippets_compile_and_send_the_body() -> None:
    out = codegen.snippets(
        RESPONSES_BODY, endpoint="responses", base_url="https://api.fireworks.ai/inference/v1"
    )
    for key in ("python_openai", "python_fireworks"):
        compile(out[key], key, "exec")
        assert "client.responses.create(" in out[key] and "previous_response_id=" in out[key]
        assert "extra_body" not in out[key]
    assert "no Responses API client" in out["python_fireworks"]
    assert (
        "client.responses.create(" in out["javascript"] and "response.output_text.delta" in out["javascript"]
    )
    assert '/responses"' in out["curl"]
    assert json.loads(out["curl"].split("<<'JSON'\n")[1].split("\nJSON\n")[0]) == RESPONSES_BODY
