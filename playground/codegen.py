"""A request body as code: Python (OpenAI SDK, fireworks-ai SDK), JavaScript (OpenAI SDK) and curl.

Pure functions over ``(body, endpoint, base_url)``: the body is the exact JSON the playground sent
(``Run.request``, or what ``chat.start`` would send), and every snippet sends that same body, streaming
or not as it was. The key is read from the ``FIREWORKS_API_KEY`` environment variable, never inlined;
the base URL from ``FIREWORKS_BASE_URL``, defaulting to ``base_url``. Fields an SDK has no keyword for
go through its ``extra_body``, so nothing is lost or added.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any, Literal

from playground.params import server_kind

Endpoint = Literal["chat", "completions", "responses"]

LANGUAGES: tuple[tuple[str, str], ...] = (
    ("python_openai", "Python · OpenAI SDK"),
    ("python_fireworks", "Python · fireworks-ai SDK"),
    ("javascript", "JavaScript · OpenAI SDK"),
    ("curl", "curl"),
)

# Keywords of the SDKs' create() methods (checked against the installed SDKs in tests/test_codegen.py).
# Anything else goes in extra_body. Kept to keywords old SDK releases have too.
OPENAI_CHAT_KWARGS = frozenset(
    {
        "model",
        "messages",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "reasoning_effort",
        "response_format",
        "seed",
        "service_tier",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    }
)
# client.responses.create() (the Responses API; the fireworks-ai SDK has none).
OPENAI_RESPONSES_KWARGS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "max_output_tokens",
        "parallel_tool_calls",
        "previous_response_id",
        "reasoning",
        "store",
        "stream",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
    }
)
OPENAI_COMPLETIONS_KWARGS = frozenset(
    {
        "model",
        "prompt",
        "best_of",
        "echo",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_tokens",
        "n",
        "presence_penalty",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "suffix",
        "temperature",
        "top_p",
        "user",
    }
)
_FIREWORKS_COMMON = frozenset(
    {
        "model",
        "context_length_exceeded_behavior",
        "echo",
        "frequency_penalty",
        "ignore_eos",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "min_p",
        "mirostat_lr",
        "mirostat_target",
        "n",
        "perf_metrics_in_response",
        "prediction",
        "presence_penalty",
        "prompt_cache_isolation_key",
        "prompt_cache_key",
        "raw_output",
        "reasoning_effort",
        "repetition_penalty",
        "response_format",
        "return_token_ids",
        "seed",
        "service_tier",
        "stop",
        "stream",
        "temperature",
        "top_k",
        "top_logprobs",
        "top_p",
        "typical_p",
        "user",
    }
)
FIREWORKS_CHAT_KWARGS = _FIREWORKS_COMMON | {"messages", "parallel_tool_calls", "tool_choice", "tools"}
FIREWORKS_COMPLETIONS_KWARGS = _FIREWORKS_COMMON | {"prompt"}

INDENT = "    "
PUBLIC_BASE_URL = "https://api.fireworks.ai/inference/v1"


def default_base_url(configured: str, *, emulator: bool) -> str:
    """The base URL code defaults to: the playground's upstream, or Fireworks when that is the emulator.

    Code pointing at the playground's loopback emulator would work nowhere else.
    """
    return PUBLIC_BASE_URL if emulator else configured


def codegen_urls() -> dict[str, Any]:
    """The base URL arguments of ``snippets`` for this playground's configuration (settings)."""
    from django.conf import settings  # read when needed; the rest of this module is pure

    # The kind of server comes from the base URL, as for the request itself (params.server_kind).
    emulator = server_kind(settings.FIREWORKS_BASE_URL) == "emulator"
    return {
        "base_url": default_base_url(settings.FIREWORKS_BASE_URL, emulator=emulator),
        "emulator_url": settings.FIREWORKS_BASE_URL if emulator else None,
    }


def snippets(
    body: dict[str, Any], *, endpoint: Endpoint, base_url: str, emulator_url: str | None = None
) -> dict[str, str]:
    """Every language's snippet for one request, keyed like ``LANGUAGES``.

    With ``emulator_url`` (the playground answered from its offline emulator) each snippet says how
    to send it there instead.
    """
    out = {
        "python_openai": python_openai(body, endpoint=endpoint, base_url=base_url),
        "python_fireworks": python_fireworks(body, endpoint=endpoint, base_url=base_url),
        "javascript": javascript_openai(body, endpoint=endpoint, base_url=base_url),
        "curl": curl(body, endpoint=endpoint, base_url=base_url),
    }
    if emulator_url:
        note = (
            "The playground answered this from its offline emulator; to send it there instead,\n"
            f"set FIREWORKS_BASE_URL={emulator_url}\n"
        )
        for key, code in out.items():
            mark = "// " if key == "javascript" else "# "
            out[key] = "".join(mark + line + "\n" for line in note.splitlines()) + code
    return out


def path_for(endpoint: Endpoint) -> str:
    """The API path under the base URL."""
    return {"chat": "/chat/completions", "completions": "/completions", "responses": "/responses"}[endpoint]


def _method(endpoint: Endpoint) -> str:
    return {
        "chat": "client.chat.completions.create",
        "completions": "client.completions.create",
        "responses": "client.responses.create",
    }[endpoint]


# --- Python ---------------------------------------------------------------------------------------


def py_literal(value: Any, level: int = 0) -> str:
    """A Python literal for a JSON value, indented like black would (one item per line)."""
    pad, inner = INDENT * level, INDENT * (level + 1)
    if isinstance(value, (dict, list)) and value:
        flat = _py_flat(value)
        # Short objects stay on one line (a message, stream_options), as black would leave them.
        if len(inner) + len(flat) <= 80:
            return flat
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_py_str(str(k))}: {py_literal(v, level + 1)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{inner}{py_literal(v, level + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if isinstance(value, str):
        return _py_str(value)
    if value is True:
        return "True"
    if value is False:
        return "False"
    if value is None:
        return "None"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _py_flat(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py_str(str(k))}: {_py_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_py_flat(v) for v in value) + "]"
    return py_literal(value)


def _py_str(text: str) -> str:
    # A JSON string literal is a valid Python one (the same escapes), and reads better than repr().
    return json.dumps(text, ensure_ascii=False)


def _py_call(call: str, body: dict[str, Any], known: frozenset[str]) -> str:
    args = [f"{INDENT}{k}={py_literal(v, 1)}," for k, v in body.items() if k in known]
    extra = {k: v for k, v in body.items() if k not in known}
    if extra:
        args.append(f"{INDENT}# Fields the SDK has no parameter for, sent in the body as they are:")
        args.append(f"{INDENT}extra_body={py_literal(extra, 1)},")
    return f"{call}(\n" + "\n".join(args) + "\n)"


def _py_output(body: dict[str, Any], endpoint: Endpoint, call: str) -> str:
    if endpoint == "responses" and body.get("stream"):
        return (
            f"stream = {call}\n"
            "for event in stream:\n"
            '    if event.type == "response.output_text.delta":\n'
            '        print(event.delta, end="", flush=True)\n'
            '    elif event.type == "response.completed":\n'
            '        print("\\nresponse id:", event.response.id, "usage:", event.response.usage)\n'
        )
    if endpoint == "responses":
        return f"response = {call}\nprint(response.output_text)\n"
    if body.get("stream"):
        piece = "chunk.choices[0].delta.content" if endpoint == "chat" else "chunk.choices[0].text"
        return (
            f"stream = {call}\n"
            "for chunk in stream:\n"
            "    # The last chunk may carry only usage (choices is empty then).\n"
            f"    if chunk.choices and {piece}:\n"
            f'        print({piece}, end="", flush=True)\n'
            "print()\n"
        )
    piece = "response.choices[0].message.content" if endpoint == "chat" else "response.choices[0].text"
    return f"response = {call}\nprint({piece})\n"


def python_openai(body: dict[str, Any], *, endpoint: Endpoint, base_url: str) -> str:
    """The request with the official OpenAI Python SDK (``pip install openai``)."""
    known = {
        "chat": OPENAI_CHAT_KWARGS,
        "completions": OPENAI_COMPLETIONS_KWARGS,
        "responses": OPENAI_RESPONSES_KWARGS,
    }[endpoint]
    method = _method(endpoint)
    return (
        "# pip install openai\n"
        "import os\n\n"
        "from openai import OpenAI\n\n"
        "client = OpenAI(\n"
        f'{INDENT}api_key=os.environ["FIREWORKS_API_KEY"],\n'
        f'{INDENT}base_url=os.environ.get("FIREWORKS_BASE_URL", {_py_str(base_url)}),\n'
        ")\n\n" + _py_output(body, endpoint, _py_call(method, body, known))
    )


def fireworks_base_url(base_url: str) -> str | None:
    """The fireworks-ai SDK's base URL for an OpenAI-style one: it adds ``/v1/...`` itself."""
    stripped = base_url.rstrip("/")
    return stripped[: -len("/v1")] if stripped.endswith("/v1") else None


def python_fireworks(body: dict[str, Any], *, endpoint: Endpoint, base_url: str) -> str:
    """The request with the official ``fireworks-ai`` Python SDK (1.x); the OpenAI SDK for /responses."""
    if endpoint == "responses":
        return (
            "# The fireworks-ai SDK has no Responses API client: this is the OpenAI SDK's.\n"
            + python_openai(body, endpoint=endpoint, base_url=base_url)
        )
    known = FIREWORKS_CHAT_KWARGS if endpoint == "chat" else FIREWORKS_COMPLETIONS_KWARGS
    method = "client.chat.completions.create" if endpoint == "chat" else "client.completions.create"
    note = ""
    if fireworks_base_url(base_url) is None:
        # Posting to {base}/v1/... would miss this server's path: say so rather than guess.
        note = (
            f"# Note: {base_url} does not end in /v1, and this SDK always adds /v1/...;\n"
            "# the OpenAI SDK snippet reaches this server as it is.\n"
        )
    # The playground's FIREWORKS_BASE_URL ends in /v1 (OpenAI style); this SDK adds /v1 itself.
    default = _py_str(base_url.rstrip("/"))
    sdk_base_expr = f'os.environ.get("FIREWORKS_BASE_URL", {default}).removesuffix("/v1")'
    return (
        "# pip install fireworks-ai\n"
        f"{note}"
        "import os\n\n"
        "from fireworks import Fireworks\n\n"
        "client = Fireworks(\n"
        f'{INDENT}api_key=os.environ["FIREWORKS_API_KEY"],\n'
        f"{INDENT}base_url={sdk_base_expr},\n"
        ")\n\n" + _py_output(body, endpoint, _py_call(method, body, known))
    )


# --- JavaScript -----------------------------------------------------------------------------------


_JS_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def js_literal(value: Any, level: int = 0) -> str:
    """A JavaScript literal for a JSON value: bare keys where they are identifiers, short objects inline."""
    pad, inner = "  " * level, "  " * (level + 1)

    def key(k: Any) -> str:
        return str(k) if _JS_IDENTIFIER.match(str(k)) else json.dumps(str(k), ensure_ascii=False)

    def flat(v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{key(k)}: {flat(x)}" for k, x in v.items()) + " }" if v else "{}"
        if isinstance(v, list):
            return "[" + ", ".join(flat(x) for x in v) + "]"
        return json.dumps(v, ensure_ascii=False)

    if isinstance(value, (dict, list)) and value and (level == 0 or len(inner) + len(flat(value)) > 80):
        if isinstance(value, dict):
            items = [f"{inner}{key(k)}: {js_literal(v, level + 1)}," for k, v in value.items()]
            return "{\n" + "\n".join(items) + f"\n{pad}}}"
        items = [f"{inner}{js_literal(v, level + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    return flat(value)


def javascript_openai(body: dict[str, Any], *, endpoint: Endpoint, base_url: str) -> str:
    """The request with the official OpenAI Node SDK, as an ES module (it sends the body as given)."""
    method = _method(endpoint)
    literal = js_literal(body)
    if endpoint == "responses" and body.get("stream"):
        output = (
            f"const stream = await {method}({literal});\n"
            "for await (const event of stream) {\n"
            '  if (event.type === "response.output_text.delta") process.stdout.write(event.delta);\n'
            "}\n"
            'process.stdout.write("\\n");\n'
        )
    elif endpoint == "responses":
        output = f"const response = await {method}({literal});\nconsole.log(response.output_text);\n"
    elif body.get("stream"):
        piece = "chunk.choices[0]?.delta?.content" if endpoint == "chat" else "chunk.choices[0]?.text"
        output = (
            f"const stream = await {method}({literal});\n"
            "for await (const chunk of stream) {\n"
            f'  process.stdout.write({piece} ?? "");\n'
            "}\n"
            'process.stdout.write("\\n");\n'
        )
    else:
        piece = "response.choices[0].message.content" if endpoint == "chat" else "response.choices[0].text"
        output = f"const response = await {method}({literal});\nconsole.log({piece});\n"
    return (
        "// npm install openai  (save as example.mjs, run with: node example.mjs)\n"
        'import OpenAI from "openai";\n\n'
        "const client = new OpenAI({\n"
        "  apiKey: process.env.FIREWORKS_API_KEY,\n"
        f"  baseURL: process.env.FIREWORKS_BASE_URL ?? {json.dumps(base_url)},\n"
        "});\n\n" + output
    )


# --- curl -----------------------------------------------------------------------------------------


def curl(body: dict[str, Any], *, endpoint: Endpoint, base_url: str) -> str:
    """The request with curl; the body is a quoted here-document, so nothing in it is shell-expanded."""
    default = base_url.rstrip("/")
    # In double quotes the default is expanded by the shell: only take it there when that is harmless.
    if any(c in default for c in '"$`\\'):
        url = shlex.quote(default + path_for(endpoint))
    else:
        url = f'"${{FIREWORKS_BASE_URL:-{default}}}{path_for(endpoint)}"'
    # Indented JSON lines start with a space or a bracket, so the bare delimiter cannot occur in it.
    literal = json.dumps(body, indent=2, ensure_ascii=False)
    flags = "-sS --no-buffer" if body.get("stream") else "-sS"
    return (
        f"curl {flags} {url} \\\n"
        '  -H "Authorization: Bearer $FIREWORKS_API_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        "  --data-binary @- <<'JSON'\n"
        f"{literal}\n"
        "JSON\n"
    )


__all__ = [
    "LANGUAGES",
    "curl",
    "fireworks_base_url",
    "javascript_openai",
    "python_fireworks",
    "python_openai",
    "snippets",
]
