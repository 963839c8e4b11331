"""The emulator's raw_output and echo (proxy/emulator/template.py: the prompt as the model sees it),
over loopback HTTP."""

from __future__ import annotations

import json

from tests.emulator_fixture import EmulatorServer
from tests.proxy.emulator.test_text import MODEL, WEATHER, chat, stream_lines


def test_raw_output_per_choice_lines_up_fragments_and_token_ids(emulator: EmulatorServer) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    body = chat(emulator, messages=messages, raw_output=True, n=2)
    for choice in body["choices"]:
        raw = choice["raw_output"]
        assert len(raw["prompt_fragments"]) == len(raw["prompt_token_ids"])
        prompt = "".join(raw["prompt_fragments"])
        assert "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" in prompt
        assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
        assert raw["completion"] == choice["message"]["content"]
        assert raw["completion_token_ids"]
    # Streamed: on each choice's final chunk.
    events = stream_lines(
        emulator, "/chat/completions", {"model": MODEL, "messages": messages, "raw_output": True}
    )
    finals = [d for _, d in events if d != "[DONE]" and d["choices"] and d["choices"][0]["finish_reason"]]
    assert finals[0]["choices"][0]["raw_output"]["prompt_token_ids"][0] == 128000


def test_return_token_ids_alone_gives_only_ids_and_chat_echo_prepends_the_prompt(
    emulator: EmulatorServer,
) -> None:
    raw = chat(emulator, return_token_ids=True)["choices"][0]["raw_output"]
    assert set(raw) == {"prompt_token_ids", "completion_token_ids"}
    echoed = chat(emulator, echo=True)["choices"][0]["message"]["content"]
    assert echoed.startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>")
    assert "[offline emulator]" in echoed


def test_raw_completion_shows_the_tool_call_before_parsing(emulator: EmulatorServer) -> None:
    body = chat(emulator, tools=[WEATHER], tool_choice="required", raw_output=True)
    choice = body["choices"][0]
    call = choice["message"]["tool_calls"][0]
    assert choice["raw_output"]["completion"].startswith("<|python_tag|>")
    assert (
        json.loads(choice["raw_output"]["completion"].removeprefix("<|python_tag|>"))["name"]
        == call["function"]["name"]
    )
