"""The one registry of request parameters: name, type, range, default, help text.

Forms, presets, the websocket validation, the UI controls, code export and the emulator all read
it. Pure Python (no Django import) so that ``proxy/`` can use it too. Ranges follow Fireworks'
documentation (../shared/fireworks-api.md). A value left unset is never sent: the model's own
generation config applies, which is what ``default`` documents.
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

Kind = Literal["float", "int", "bool", "choice", "string", "stop", "logit_bias", "response_format"]
Mode = Literal["chat", "completions", "responses"]
BOTH: tuple[Mode, ...] = ("chat", "completions")
# Parameters the Responses API (``POST /responses``) takes too (proxy/responses.py maps their names).
ALL: tuple[Mode, ...] = ("chat", "completions", "responses")


@dataclass(frozen=True)
class Param:
    """One request parameter as the API documents it."""

    name: str
    kind: Kind
    help: str
    group: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    modes: tuple[Mode, ...] = BOTH
    # Key of the ``fireworks-sampling-options`` response header this parameter shows up under.
    sampling_key: str | None = None
    # A Fireworks extension (not in OpenAI's API): another server may refuse it by name.
    fireworks: bool = False
    # A switch whose ``false`` still says something to the server (its own default is on): sent as
    # false. Any other switch turned off is not sent at all.
    sent_when_off: bool = False
    # Asked for by the playground unless switched off (stream_options.include_usage, perf metrics).
    asked: bool = False

    def range_text(self) -> str:
        """Say the allowed values in words, for error messages and help."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.minimum is not None and self.maximum is not None:
            return f"between {_fmt(self.minimum)} and {_fmt(self.maximum)}"
        if self.minimum is not None:
            return f"at least {_fmt(self.minimum)}"
        return {
            "stop": "a string or a list of up to 4 strings",
            "logit_bias": "an object of token id → bias between -100 and 100",
            "response_format": "text, json_object or json_schema with a JSON schema object",
            "string": "a string",
            "int": "a whole number",
        }.get(self.kind, "a number")


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


SAMPLING, PENALTIES, OUTPUT, REASONING, ADVANCED = "Sampling", "Penalties", "Output", "Reasoning", "Advanced"

PARAMS: tuple[Param, ...] = (
    Param(
        "temperature",
        "float",
        "Randomness: 0 always picks the likeliest token, higher is more varied.",
        SAMPLING,
        default=1.0,
        minimum=0,
        maximum=2,
        step=0.05,
        modes=ALL,
        sampling_key="temperature",
    ),
    Param(
        "top_p",
        "float",
        "Nucleus sampling: sample only from the smallest token set whose probability adds up to p.",
        SAMPLING,
        default=1.0,
        minimum=0,
        maximum=1,
        step=0.01,
        modes=ALL,
        sampling_key="top_p",
    ),
    Param(
        "top_k",
        "int",
        "Sample only from the k likeliest tokens (0 turns it off).",
        SAMPLING,
        default=0,
        minimum=0,
        maximum=100,
        step=1,
        sampling_key="top_k",
        fireworks=True,
    ),
    Param(
        "min_p",
        "float",
        "Drop tokens less likely than min_p times the likeliest one.",
        SAMPLING,
        default=0.0,
        minimum=0,
        maximum=1,
        step=0.01,
        sampling_key="min_p",
        fireworks=True,
    ),
    Param(
        "typical_p",
        "float",
        "Locally typical sampling: keep tokens whose surprise is close to the expected (1 turns it off).",
        SAMPLING,
        default=1.0,
        minimum=0,
        maximum=1,
        step=0.01,
        sampling_key="typical_p",
        fireworks=True,
    ),
    Param(
        "max_tokens",
        "int",
        "The most tokens to generate for each choice.",
        OUTPUT,
        default=2048,
        minimum=1,
        maximum=1_000_000,
        step=1,
        modes=ALL,
        sampling_key="max_tokens",
    ),
    Param(
        "frequency_penalty",
        "float",
        "Penalise tokens by how often they already appeared (negative encourages repeats).",
        PENALTIES,
        default=0.0,
        minimum=-2,
        maximum=2,
        step=0.05,
        sampling_key="frequency_penalty",
    ),
    Param(
        "presence_penalty",
        "float",
        "Penalise tokens that appeared at all, nudging towards new topics.",
        PENALTIES,
        default=0.0,
        minimum=-2,
        maximum=2,
        step=0.05,
        sampling_key="presence_penalty",
    ),
    Param(
        "repetition_penalty",
        "float",
        "Multiplicative penalty on tokens already seen (1 turns it off).",
        PENALTIES,
        default=1.0,
        minimum=0,
        maximum=2,
        step=0.01,
        sampling_key="repetition_penalty",
        fireworks=True,
    ),
    Param(
        "mirostat_target",
        "float",
        "Mirostat: the target surprise (perplexity) to hold; off when unset.",
        SAMPLING,
        default=None,
        minimum=0,
        maximum=100,
        step=0.1,
        sampling_key="mirostat_target",
        fireworks=True,
    ),
    Param(
        "mirostat_lr",
        "float",
        "Mirostat learning rate: how fast it corrects towards the target.",
        SAMPLING,
        default=0.1,
        minimum=0,
        maximum=1,
        step=0.01,
        sampling_key="mirostat_lr",
        fireworks=True,
    ),
    Param("stop", "stop", "Stop generating when any of these sequences appears (up to 4).", OUTPUT),
    Param("seed", "int", "A seed for reproducible sampling.", OUTPUT, minimum=0, maximum=2**63 - 1, step=1),
    Param(
        "n",
        "int",
        "How many independent choices to generate.",
        OUTPUT,
        default=1,
        minimum=1,
        maximum=128,
        step=1,
    ),
    Param("logprobs", "bool", "Return the log probability of each generated token.", OUTPUT, default=False),
    Param(
        "top_logprobs",
        "int",
        "With logprobs, also return this many likeliest alternatives per token.",
        OUTPUT,
        default=0,
        minimum=0,
        maximum=5,
        step=1,
    ),
    Param(
        "logit_bias",
        "logit_bias",
        "Raise or lower the odds of specific token ids (-100 bans, 100 forces).",
        ADVANCED,
    ),
    Param(
        "response_format",
        "response_format",
        "Constrain the output: free text, any JSON object, or JSON matching a schema.",
        OUTPUT,
        modes=("chat",),
    ),
    Param(
        "reasoning_effort",
        "choice",
        "How much a reasoning model thinks before answering.",
        REASONING,
        choices=("none", "low", "medium", "high"),
        modes=("chat",),
    ),
    Param(
        "ignore_eos",
        "bool",
        "Keep generating past the end-of-sequence token, up to max_tokens (for benchmarks).",
        ADVANCED,
        default=False,
        fireworks=True,
    ),
    Param(
        "echo",
        "bool",
        "Return the prompt along with the completion.",
        ADVANCED,
        default=False,
        fireworks=True,
    ),
    Param(
        "raw_output",
        "bool",
        "Return the prompt as the model saw it (template fragments, token ids) and the raw completion.",
        ADVANCED,
        default=False,
        modes=("chat",),
        fireworks=True,
    ),
    Param(
        "return_token_ids",
        "bool",
        "Return the token ids of the prompt and of the completion.",
        ADVANCED,
        default=False,
        fireworks=True,
    ),
    Param(
        "parallel_tool_calls",
        "bool",
        "Let the model call several tools in one reply (with tools defined).",
        OUTPUT,
        default=True,
        modes=("chat", "responses"),
        sent_when_off=True,
    ),
    Param(
        "store",
        "bool",
        "Keep the response on the server, so a later request can continue it (previous_response_id).",
        OUTPUT,
        default=True,
        modes=("responses",),
        sent_when_off=True,
    ),
    Param(
        "context_length_exceeded_behavior",
        "choice",
        "When prompt plus max_tokens exceed the context: truncate lowers max_tokens, error refuses.",
        ADVANCED,
        default="truncate",
        choices=("truncate", "error"),
        fireworks=True,
    ),
    Param(
        "prompt_cache_isolation_key",
        "string",
        "Keep this request's prompt cache apart from other keys.",
        ADVANCED,
        fireworks=True,
    ),
    Param(
        "service_tier",
        "choice",
        "priority asks for priority capacity; auto is the default.",
        ADVANCED,
        default="auto",
        choices=("auto", "priority"),
        fireworks=True,
    ),
    Param(
        "include_usage",
        "bool",
        "Ask for token usage at the end of the stream (stream_options.include_usage).",
        ADVANCED,
        default=True,
        asked=True,
    ),
    Param(
        "perf_metrics_in_response",
        "bool",
        "Ask for the server's performance metrics on the final chunk.",
        ADVANCED,
        default=True,
        fireworks=True,
        asked=True,
    ),
)
PARAMS_BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}

# Sampling-options header keys, in the order Fireworks sends them, with the values it applies when a
# request leaves them out (as recorded in ../shared/fixtures/fireworks-recorded/).
SAMPLING_OPTION_DEFAULTS: dict[str, Any] = {
    "max_tokens": 2048,
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "min_p": 0.0,
    "typical_p": 1.0,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
    "repetition_penalty": 1.0,
    "mirostat_target": None,
    "mirostat_lr": 0.1,
}


class ParamError(ValueError):
    """A parameter value the API would refuse; the message names the parameter and its range."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


def _number(p: Param, value: Any) -> float | int:
    if isinstance(value, bool):
        raise ParamError(p.name, f"{p.name} must be {p.range_text()}, not {value!r}.")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ParamError(p.name, f"{p.name} must be a number {p.range_text()}, not {value!r}.") from None
    if isinstance(value, int) and not -(10**18) <= value <= 10**18:
        # Past float's range math.isfinite would raise OverflowError; no parameter goes anywhere near.
        digits = len(str(abs(value)))
        raise ParamError(p.name, f"{p.name} must be {p.range_text()}; got a number of {digits} digits.")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParamError(p.name, f"{p.name} must be a number {p.range_text()}, not {value!r}.")
    number: float | int
    if p.kind == "int":
        if float(value) != int(value):
            raise ParamError(p.name, f"{p.name} must be a whole number {p.range_text()}, not {value!r}.")
        number = int(value)
    else:
        number = float(value)
    if (p.minimum is not None and number < p.minimum) or (p.maximum is not None and number > p.maximum):
        raise ParamError(p.name, f"{p.name} must be {p.range_text()}; got {_fmt(number)}.")
    return number


def _clean(p: Param, value: Any) -> Any:
    if p.kind in ("float", "int"):
        return _number(p, value)
    if p.kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise ParamError(p.name, f"{p.name} must be true or false, not {value!r}.")
    if p.kind == "choice":
        if value not in p.choices:
            raise ParamError(p.name, f"{p.name} must be {p.range_text()}; got {value!r}.")
        return value
    if p.kind == "string":
        if not isinstance(value, str):
            raise ParamError(p.name, f"{p.name} must be a string.")
        return value
    if p.kind == "stop":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items) or len(items) > 4:
            raise ParamError(p.name, f"stop must be {p.range_text()}.")
        return items
    if p.kind == "logit_bias":
        if isinstance(value, str):
            value = _json(p, value)
        if not isinstance(value, dict):
            raise ParamError(p.name, f"logit_bias must be {p.range_text()}.")
        out: dict[str, float] = {}
        for token, bias in value.items():
            if not str(token).isdigit():
                raise ParamError(p.name, f"logit_bias keys must be token ids (whole numbers); got {token!r}.")
            if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not -100 <= bias <= 100:
                raise ParamError(
                    p.name, f"logit_bias values must be between -100 and 100; got {bias!r} for {token}."
                )
            out[str(token)] = bias
        return out
    if p.kind == "response_format":
        return _response_format(p, value)
    raise AssertionError(p.kind)  # pragma: no cover


def _json(p: Param, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParamError(p.name, f"{p.name} is not valid JSON: {exc.msg} (line {exc.lineno}).") from None


def _response_format(p: Param, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise ParamError(p.name, f"response_format must be {p.range_text()}.")
    if value["type"] == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict):
            spec = {}
        schema = spec.get("schema")
        if isinstance(schema, str):
            schema = _json(p, schema)
        if not isinstance(schema, dict):
            raise ParamError(p.name, "response_format json_schema needs a JSON schema object.")
        named = {**spec, "name": spec.get("name") or "output", "schema": schema}
        return {"type": "json_schema", "json_schema": named}
    if value["type"] == "json_object" and isinstance(value.get("schema"), dict):
        return {"type": "json_object", "schema": value["schema"]}
    return {"type": value["type"]}


def validate_value(name: str, value: Any, *, mode: Mode = "chat") -> Any:
    """Check one parameter's value on its own (its type and range) and return it cleaned."""
    p = PARAMS_BY_NAME.get(name)
    if p is None:
        raise ParamError(
            name, f"Unknown parameter {name!r}. Put fields the registry does not know in 'extra'."
        )
    if mode not in p.modes:
        raise ParamError(name, f"{name} is not available in {mode} mode.")
    return _clean(p, value)


def validate(params: dict[str, Any], *, mode: Mode = "chat") -> dict[str, Any]:
    """Check every parameter against the registry and return the cleaned values to send.

    Unset values (``None`` or ``""``) are dropped, so they are not sent. Unknown names, values out
    of range and combinations the API refuses raise ``ParamError`` naming the parameter and its range.
    """
    if not isinstance(params, dict):
        raise ParamError("params", "params must be an object of parameter name → value.")
    cleaned = {
        name: validate_value(name, value, mode=mode)
        for name, value in params.items()
        # Unset values are dropped; an unknown name is refused even when unset.
        if (value is not None and value != "") or name not in PARAMS_BY_NAME
    }
    if cleaned.get("top_logprobs") and not cleaned.get("logprobs"):
        raise ParamError("top_logprobs", "top_logprobs needs logprobs turned on.")
    return cleaned


def to_request_fields(cleaned: dict[str, Any]) -> dict[str, Any]:
    """Map cleaned registry values onto the request body's fields (stream options are nested).

    A switch turned off is not sent at all, unless its ``false`` says something (``sent_when_off``);
    for the two the playground asks for unless told not to, ``false`` stays, for ``prepare_body``
    (proxy/client/client.py) to leave them out rather than ask.
    """
    body: dict[str, Any] = {}
    for name, value in cleaned.items():
        p = PARAMS_BY_NAME.get(name)
        if p is not None and p.kind == "bool" and value is False and not (p.sent_when_off or p.asked):
            continue
        if name == "include_usage":
            body["stream_options"] = {"include_usage": value}
        else:
            body[name] = value
    return body


ServerKind = Literal["fireworks", "emulator", "other"]
KIND_LABELS: dict[str, str] = {
    "fireworks": "Fireworks",
    "emulator": "offline emulator",
    "other": "OpenAI-compatible server",
}


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_kind(base_url: str) -> ServerKind:
    """The kind of server a base URL names: a Fireworks host, the offline emulator (a loopback URL
    with Fireworks' ``/inference/v1`` path, as ``serve`` starts it) or another OpenAI-compatible one.

    Fireworks and the emulator take the ``fireworks`` parameters the playground asks for unasked;
    another server gets only what the user set, and the standard fields.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host == "fireworks.ai" or host.endswith(".fireworks.ai"):
        return "fireworks"
    if _is_loopback(host) and parts.path.rstrip("/") == "/inference/v1":
        return "emulator"
    return "other"


def server_json(base_url: str) -> dict[str, str]:
    """The upstream as the page shows it: its kind, the kind in words, and its host."""
    kind = server_kind(base_url)
    return {"kind": kind, "label": KIND_LABELS[kind], "host": urlsplit(base_url).netloc or base_url}


def sampling_options_for(request: dict[str, Any]) -> dict[str, Any]:
    """The sampling options a Fireworks server applies to ``request`` (what its header reports)."""
    applied = dict(SAMPLING_OPTION_DEFAULTS)
    for key in applied:
        if request.get(key) is not None:
            applied[key] = request[key]
    if request.get("max_completion_tokens") is not None:
        applied["max_tokens"] = request["max_completion_tokens"]
    for key in (
        "temperature",
        "top_p",
        "min_p",
        "typical_p",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "mirostat_lr",
    ):
        applied[key] = float(applied[key])
    if applied["mirostat_target"] is not None:
        applied["mirostat_target"] = float(applied["mirostat_target"])
    return applied


def registry_json() -> list[dict[str, Any]]:
    """The registry as plain data for the page's controls."""
    return [{**asdict(p), "range": p.range_text()} for p in PARAMS]


__all__ = [
    "KIND_LABELS",
    "PARAMS",
    "PARAMS_BY_NAME",
    "SAMPLING_OPTION_DEFAULTS",
    "Param",
    "ParamError",
    "registry_json",
    "sampling_options_for",
    "server_json",
    "server_kind",
    "to_request_fields",
    "validate",
]
