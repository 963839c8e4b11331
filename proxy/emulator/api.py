"""The emulator's view of the Fireworks API: the model catalogue, request validation, error bodies.

Validation reads the parameter registry (``playground/params.py``, pure Python) so the emulator refuses
exactly what the playground's own forms refuse, with the same messages naming the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playground.params import PARAMS_BY_NAME, ParamError, validate_value

MODEL_NOT_FOUND = "Model not found, inaccessible, and/or not deployed"
# The recorded 400 from mixtral, whose chat template insists on alternating roles.
ALTERNATION_ERROR = (
    "jinja template rendering failed. After the optional system message, conversation roles must alternate "
    "user/assistant/user/assistant/..."
)
ROLES = ("system", "user", "assistant", "tool")
PART_TYPES = ("text", "image_url", "video_url")
# Registry parameters the emulator checks itself, because the API accepts more than the form does.
CUSTOM_CHECKS = {"logprobs", "reasoning_effort", "include_usage", "perf_metrics_in_response", "service_tier"}


@dataclass(frozen=True)
class ModelInfo:
    """One model of the emulator's fixed serverless catalogue."""

    id: str
    owned_by: str
    created: int
    context_length: int
    supports_tools: bool = True
    supports_image_input: bool = False
    reasoning: bool = False
    strict_alternation: bool = False
    speculation: bool = False  # speculative decoding: sends fireworks-speculation-generated-tokens

    def as_json(self) -> dict[str, Any]:
        """The model as an entry of ``GET /models``."""
        return {
            "id": self.id,
            "object": "model",
            "owned_by": self.owned_by,
            "created": self.created,
            "supports_chat": True,
            "supports_image_input": self.supports_image_input,
            "supports_tools": self.supports_tools,
            "context_length": self.context_length,
        }


CATALOGUE: tuple[ModelInfo, ...] = (
    ModelInfo("accounts/fireworks/models/llama-v3p1-8b-instruct", "fireworks", 1721692800, 131072, False),
    ModelInfo("accounts/fireworks/models/llama-v3p3-70b-instruct", "fireworks", 1733443200, 131072),
    ModelInfo("accounts/fireworks/models/deepseek-v3", "fireworks", 1735516800, 131072, speculation=True),
    ModelInfo("accounts/fireworks/models/qwen3-235b-a22b", "fireworks", 1745884800, 131072, reasoning=True),
    ModelInfo(
        "accounts/fireworks/models/llama4-maverick-instruct-basic",
        "fireworks",
        1743897600,
        1048576,
        supports_image_input=True,
    ),
    ModelInfo(
        "accounts/fireworks/models/mixtral-8x7b-instruct",
        "fireworks",
        1702339200,
        32768,
        False,
        strict_alternation=True,
    ),
    # Models the recorded traffic used (../shared/fixtures/fireworks-recorded/), so it can be replayed.
    ModelInfo("accounts/fireworks/models/llama-v3p2-1b-instruct", "fireworks", 1727136000, 131072, False),
    ModelInfo("accounts/yi-01-ai/models/yi-large", "yi-01-ai", 1716163200, 32768, False),
)
CATALOGUE_BY_ID = {m.id: m for m in CATALOGUE}
DEPLOYMENT_RE = re.compile(r"^accounts/[\w.-]+/deployments/([\w.-]+)$")
# A LoRA add-on served on a catalogue model: accounts/<acct>/models/<catalogue slug>-lora[-<name>].
LORA_RE = re.compile(r"^accounts/[\w.-]+/models/([\w.-]+?)-lora(?:-[\w.-]+)?$")
_SLUGS = {m.id.rsplit("/", 1)[1]: m for m in CATALOGUE}


def lora_base(model: Any) -> ModelInfo | None:
    """The catalogue model a LoRA add-on id runs on (None when ``model`` is not one)."""
    match = LORA_RE.match(model) if isinstance(model, str) else None
    return _SLUGS.get(match.group(1)) if match else None


def resolve_model(model: Any) -> ModelInfo | None:
    """The catalogue model behind a model id, a deployment id, ``<model>#<deployment>`` or a LoRA add-on
    (``accounts/<acct>/models/<catalogue slug>-lora[-<name>]``); None if unknown."""
    if not isinstance(model, str):
        return None
    if "#" in model:
        base, _, deployment = model.partition("#")
        return CATALOGUE_BY_ID.get(base) if deployment else None
    if model in CATALOGUE_BY_ID:
        return CATALOGUE_BY_ID[model]
    lora = lora_base(model)
    if lora is not None:
        return lora
    match = DEPLOYMENT_RE.match(model)
    if match:
        # A dedicated deployment of some base model: use the one its id names, else the first.
        slug = match.group(1)
        return next((m for m in CATALOGUE if slug.startswith(m.id.rsplit("/", 1)[1])), CATALOGUE[0])
    return None


class ApiError(Exception):
    """A request the API refuses: status and JSON body (``None`` for an empty body)."""

    def __init__(self, status: int, body: Any, *, request_id: bool = True) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.request_id = request_id  # whether the response carries x-request-id (404s do not, as recorded)


def invalid(message: str) -> ApiError:
    """A 400 in the recorded ``invalid_request_error`` shape."""
    return ApiError(400, {"error": {"object": "error", "type": "invalid_request_error", "message": message}})


def model_not_found() -> ApiError:
    """The recorded 404 with the bare-string error."""
    return ApiError(404, {"error": MODEL_NOT_FOUND}, request_id=False)


ERROR_TYPES = {
    400: ("invalid_request_error", "INVALID_ARGUMENT"),
    401: ("authentication_error", "UNAUTHENTICATED"),
    402: ("billing_error", "PAYMENT_REQUIRED"),
    403: ("permission_error", "PERMISSION_DENIED"),
    404: ("not_found_error", "NOT_FOUND"),
    408: ("timeout_error", "DEADLINE_EXCEEDED"),
    412: ("precondition_failed", "FAILED_PRECONDITION"),
    413: ("invalid_request_error", "PAYLOAD_TOO_LARGE"),
    422: ("invalid_request_error", "INVALID_ARGUMENT"),
    429: ("rate_limit_error", "RESOURCE_EXHAUSTED"),
    503: ("service_unavailable", "UNAVAILABLE"),
    504: ("timeout_error", "DEADLINE_EXCEEDED"),
}
DEFAULT_MESSAGES = {
    401: "The API key you provided is invalid.",
    402: "Your account is out of credits. Add a payment method to continue.",
    404: MODEL_NOT_FOUND,
    408: "Request timed out.",
    429: "Request rate limit exceeded, please try again later.",
    502: "Bad gateway.",
    503: "The server is overloaded, please try again later.",
}


def error_body(status: int, shape: str, request_id: str, message: str | None = None) -> Any:
    """An error body in one of the shapes Fireworks (or a server in front of it) sends.

    ``object``, ``string``, ``coded`` and ``detail`` are JSON; ``text`` is plain text; ``empty`` is None.
    """
    message = message or DEFAULT_MESSAGES.get(status, f"Emulated error {status}.")
    kind, code = ERROR_TYPES.get(status, ("server_error", "INTERNAL"))
    if shape == "string":
        return {"error": message}
    if shape == "coded":
        param = "model" if status == 404 else None
        return {
            "error": {"message": message, "type": kind, "code": code, "param": param},
            "request_id": request_id,
        }
    if shape == "detail":
        if status == 422:
            return {"detail": [{"loc": ["body"], "msg": message, "type": "value_error"}]}
        return {"detail": message}
    if shape == "text":
        return f"upstream connect error or disconnect/reset before headers. reset reason: {message}"
    if shape == "empty":
        return None
    return {"error": {"object": "error", "type": kind, "message": message}}


def _check_messages(messages: Any, model: ModelInfo) -> None:
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: a non-empty list of messages is required.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages[{i}] must be an object with a role and content.")
        if message.get("role") not in ROLES:
            raise invalid(
                f"messages[{i}].role must be one of {', '.join(ROLES)}; got {message.get('role')!r}."
            )
        content = message.get("content")
        if content is None and not (message["role"] == "assistant" and message.get("tool_calls")):
            raise invalid(f"messages[{i}].content is required.")
        if isinstance(content, list):
            for j, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in PART_TYPES:
                    raise invalid(f"messages[{i}].content[{j}].type must be one of {', '.join(PART_TYPES)}.")
                if kind != "text" and not model.supports_image_input:
                    raise invalid(
                        f"messages[{i}].content[{j}]: model {model.id} does not support image or video input."
                    )
        elif content is not None and not isinstance(content, str):
            raise invalid(f"messages[{i}].content must be a string or a list of content parts.")
    if model.strict_alternation:
        roles = [m["role"] for m in messages if m["role"] != "system" or m is not messages[0]]
        if not roles or roles[0] != "user" or any(r == roles[k - 1] for k, r in enumerate(roles) if k):
            raise invalid(ALTERNATION_ERROR)


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid("tools must be a list of function tools.")
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if (
                not isinstance(tool, dict)
                or tool.get("type", "function") != "function"
                or not isinstance(function, dict)
            ):
                raise invalid(f"tools[{i}] must be {{type: 'function', function: {{name, parameters}}}}.")
            if not isinstance(function.get("name"), str) or not function["name"]:
                raise invalid(f"tools[{i}].function.name is required.")
            names.append(function["name"])
    choice = body.get("tool_choice")
    if choice is None or choice in ("none", "auto", "required", "any"):
        return
    wanted = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if wanted is None:
        raise invalid(
            "tool_choice must be none, auto, required, any or {type: 'function', function: {name}}."
        )
    if wanted not in names:
        raise invalid(f"tool_choice names the function {wanted!r}, which is not in tools.")


def check_request(body: dict[str, Any], *, mode: str, model: ModelInfo) -> None:
    """Refuse what Fireworks refuses, with a 400 naming the parameter; unknown fields are ignored."""
    if mode == "chat":
        _check_messages(body.get("messages"), model)
        _check_tools(body)
    else:
        prompt = body.get("prompt")
        if not (
            isinstance(prompt, str)
            or (isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt))
        ):
            raise invalid("prompt: a string (or a list of strings) is required.")
    for name, value in body.items():
        param = PARAMS_BY_NAME.get(name)
        if param is None or value is None or name in CUSTOM_CHECKS or mode not in param.modes:
            continue
        try:
            validate_value(name, value, mode="chat" if mode == "chat" else "completions")
        except ParamError as exc:
            raise invalid(exc.message) from None
    if body.get("max_completion_tokens") is not None:
        if body.get("max_tokens") is not None:
            raise invalid("max_tokens and max_completion_tokens cannot both be set; use one of them.")
        try:
            validate_value("max_tokens", body["max_completion_tokens"])
        except ParamError as exc:
            raise invalid(exc.message.replace("max_tokens", "max_completion_tokens")) from None
    logprobs = body.get("logprobs")
    if not isinstance(logprobs, (bool, type(None))) and (
        not isinstance(logprobs, int) or not 0 <= logprobs <= 5
    ):
        raise invalid(f"logprobs must be true, false or a whole number between 0 and 5; got {logprobs!r}.")
    if body.get("top_logprobs") and not logprobs:
        raise invalid("top_logprobs needs logprobs turned on.")
    effort = body.get("reasoning_effort")
    known = effort in ("none", "low", "medium", "high") or (isinstance(effort, int) and effort >= 0)
    if effort is not None and not isinstance(effort, bool) and not known:
        raise invalid(
            f"reasoning_effort must be none, low, medium, high, a token cap or a bool; got {effort!r}."
        )
    thinking = body.get("thinking")
    if thinking is not None:
        if effort is not None:
            raise invalid("thinking and reasoning_effort cannot both be set.")
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        if (
            isinstance(thinking, dict)
            and thinking.get("type") == "enabled"
            and (not isinstance(budget, int) or budget < 1024)
        ):
            raise invalid("thinking.budget_tokens must be at least 1024.")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise invalid("stream must be true or false.")
