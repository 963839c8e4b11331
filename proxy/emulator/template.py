"""The emulator's chat template and ``raw_output``: the prompt as its model "sees" it, token by token.

A simple Llama-3-like template, deterministic and pure. ``prompt_fragments`` holds one string per
prompt token (special tokens such as ``<|start_header_id|>`` included), so it lines up with
``prompt_token_ids`` one to one and the page can count each message's tokens. The raw completion is
the text before tool-call parsing: a tool call appears as ``<|python_tag|>`` and its JSON.
"""

from __future__ import annotations

import json
from typing import Any

from playground.content import content_text
from proxy.emulator.text import token_id, tokenize

BOS, START, END, EOT = "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"
PYTHON_TAG, IMAGE = "<|python_tag|>", "<|image|>"
SPECIAL_IDS = {BOS: 128000, START: 128006, END: 128007, EOT: 128009, PYTHON_TAG: 128010, IMAGE: 128256}


def fragment_id(fragment: str) -> int:
    """The token id of one prompt fragment (special tokens have their fixed ids)."""
    return SPECIAL_IDS.get(fragment, token_id(fragment))


def _message_body(message: dict[str, Any]) -> list[str]:
    tokens = tokenize(content_text(message.get("content")))
    content = message.get("content")
    if isinstance(content, list):
        tokens += [IMAGE for p in content if isinstance(p, dict) and p.get("type") != "text"]
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            text = json.dumps({"name": function.get("name"), "parameters": function.get("arguments")})
            tokens += [PYTHON_TAG, *tokenize(text)]
    return tokens


def prompt_fragments(messages: list[dict[str, Any]], tools: Any = None) -> list[str]:
    """The templated prompt, one fragment per token: tools (if any), each message, the reply's header."""
    out = [BOS]
    if tools:
        out += [START, "system", END, *tokenize("\n\nTools: " + json.dumps(tools)), EOT]
    for message in messages:
        out += [START, str(message.get("role")), END, "\n\n", *_message_body(message), EOT]
    return [*out, START, "assistant", END, "\n\n"]


def raw_output(
    fragments: list[str], completion: str, *, full: bool, tool_calls: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """One choice's ``raw_output``: with ``full`` (``raw_output: true``) the fragments and completion too.

    ``tool_calls`` are (name, arguments JSON) pairs, appended to the completion as the model wrote them.
    """
    raw = completion
    for name, arguments in tool_calls:
        raw += PYTHON_TAG + json.dumps({"name": name, "parameters": json.loads(arguments)})
    out: dict[str, Any] = {
        "prompt_token_ids": [fragment_id(f) for f in fragments],
        "completion_token_ids": [token_id(t) for t in tokenize(raw)],
    }
    if full:
        out = {"prompt_fragments": fragments, **out, "completion": raw}
    return out
