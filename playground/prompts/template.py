"""``{{ variable }}`` placeholders: which names a text uses, and the text with values filled in.

The one definition on the server; its twin for the page is ``static/playground/core/variables.js``
(the same rules, checked against the same cases in tests/playground/prompts/template_cases.json).

Rules:
- a placeholder is ``{{`` + optional spaces or tabs + a name + optional spaces or tabs + ``}}``; a name is
  ``[A-Za-z_][A-Za-z0-9_]*``. Anything else (``{{ 1x }}``, ``{{a.b}}``, ``{ {a} }``) is plain text.
- names are reported in the order of their first appearance, each once.
- filling is one pass: a value is inserted literally, so a value containing ``{{x}}`` is never expanded.
- the texts filled are the system prompt, the text of ``system`` and ``user`` messages (string content or
  ``text`` parts) and the completions prompt. Assistant and tool messages are the model's and the tools'
  words: sent as they are, so a saved reply that mentions ``{{x}}`` is never changed when sent back.
- a value must be a string; a name absent from the values (or None) is missing, and every missing name
  is reported at once (``MissingVariables``) before anything is filled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# The most text a filled-in chat.start may hold (one value used many times can multiply a small frame).
MAX_RENDERED_CHARS = 4_000_000


class TemplateError(ValueError):
    """The values cannot fill the text: missing, not text, or the result too long."""


class MissingVariables(TemplateError):
    """Values are missing for these variables (in order of first appearance)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(names)
        plural = "s" if len(self.names) != 1 else ""
        super().__init__(f"Missing value{plural} for variable{plural}: {', '.join(self.names)}.")


class InvalidValue(TemplateError):
    """A variable's value is not a string."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"The value of variable {name} must be text.")


class TooLong(TemplateError):
    """The filled-in text would be longer than the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The prompt with its variables filled in would be over {limit:,} characters.")


def variables_in(text: str) -> list[str]:
    """The placeholder names in ``text``, in order of first appearance, each once."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text or "")))


def _merge(names: Iterable[str], into: dict[str, None]) -> None:
    for name in names:
        into.setdefault(name, None)


def _check(names: list[str], values: Mapping[str, Any]) -> None:
    missing = [n for n in names if values.get(n) is None]
    if missing:
        raise MissingVariables(missing)
    for name in names:
        if not isinstance(values[name], str):
            raise InvalidValue(name)


def _fill(text: str, values: Mapping[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def render(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with every placeholder replaced by its value (inserted literally, in one pass)."""
    _check(variables_in(text), values)
    return _fill(text or "", values)


# The roles whose messages are templates (the others are the model's and the tools' words).
TEMPLATED_ROLES = ("system", "user")


def _templated(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") in TEMPLATED_ROLES


def _is_text_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)


def _texts(start: Mapping[str, Any]) -> Iterable[str]:
    """Every text of a chat.start-shaped dict that may hold placeholders, in reading order."""
    if isinstance(start.get("system"), str):
        yield start["system"]
    messages = start.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if not _templated(message):
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for part in content:
                if (
                    isinstance(part, dict)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                ):
                    yield part["text"]
    if isinstance(start.get("prompt"), str):
        yield start["prompt"]


def start_variables(start: Mapping[str, Any]) -> list[str]:
    """The placeholder names of a chat.start-shaped dict (system, then system and user messages, then
    prompt)."""
    names: dict[str, None] = {}
    for text in _texts(start):
        _merge(variables_in(text), names)
    return list(names)


def _fill_message(message: Any, values: Mapping[str, Any]) -> Any:
    if not _templated(message):
        return message
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": _fill(content, values)}
    if isinstance(content, list):
        parts = [
            {**part, "text": _fill(part["text"], values)} if _is_text_part(part) else part for part in content
        ]
        return {**message, "content": parts}
    return message


# The placeholder and its name, for counting without a match object each.
_WHOLE = re.compile(f"({PLACEHOLDER.pattern})")


def _filled_length(texts: Iterable[str], values: Mapping[str, Any]) -> int:
    total = 0
    for text in texts:
        total += len(text)
        for whole, name in _WHOLE.findall(text):
            total += len(values[name]) - len(whole)
    return total


def render_start(
    start: Mapping[str, Any], values: Mapping[str, Any], *, max_chars: int | None = None
) -> dict[str, Any]:
    """A copy of a chat.start-shaped dict with its system prompt, system and user messages' text (string
    content or text parts) and prompt filled in. Raises MissingVariables naming every missing value,
    before filling; with ``max_chars``, TooLong when the filled-in texts together would be longer."""
    _check(start_variables(start), values)
    if max_chars is not None and _filled_length(_texts(start), values) > max_chars:
        raise TooLong(max_chars)
    out = dict(start)
    if isinstance(out.get("system"), str):
        out["system"] = _fill(out["system"], values)
    if isinstance(out.get("messages"), list):
        out["messages"] = [_fill_message(m, values) for m in out["messages"]]
    if isinstance(out.get("prompt"), str):
        out["prompt"] = _fill(out["prompt"], values)
    return out


def cell_start(
    *, prompt: dict[str, Any], config: dict[str, Any], values: dict[str, Any], stream: str
) -> dict[str, Any]:
    """The chat.start frame of a prompt (a chat.start-shaped dict, e.g. a version's ``start``) filled with
    ``values``, under a configuration's model, parameters and system prompt (an eval's cell, an arena's
    slot). ``proxy.frames.parse_start`` turns it into the exact request body."""
    start = render_start(prompt["start"], values)
    # A prompt version brings its model and parameters; the configuration's win over them.
    frame: dict[str, Any] = {
        "type": "chat.start",
        "stream": stream,
        "mode": start.get("mode") or "chat",
        "model": config["model"] or start.get("model") or "",
        "params": {**(start.get("params") or {}), **(config.get("params") or {})},
        "extra": {**(start.get("extra") or {}), **(config.get("extra") or {})},
    }
    system = start.get("system") or config.get("system") or ""
    if start.get("mode") == "completions":
        frame["prompt"] = start.get("prompt") or ""
    else:
        frame["messages"] = start.get("messages") or []
        if system:
            frame["system"] = system
    return frame


# --- Variable definitions: how the playground's form asks for a value, and what a value must be ----------

# text: one line; long_text: a text area; number: a number written in decimal; choice: one of ``choices``.
VARIABLE_TYPES = ("text", "long_text", "number", "choice")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_CHOICES = 50


def default_definition(name: str) -> dict[str, Any]:
    """The definition of a variable nobody described yet: one line of text, no default."""
    return {"name": name, "type": "text", "default": ""}


def value_error(definition: Mapping[str, Any], value: Any) -> str | None:
    """Why ``value`` does not fit the variable's type (None when it does); "" is left to the caller."""
    name = definition.get("name", "?")
    if not isinstance(value, str):
        return f"The value of variable {name} must be text."
    kind = definition.get("type", "text")
    if kind == "number" and value != "" and not NUMBER.fullmatch(value):
        return f"{name} must be a number (like 3, -0.5 or 1e3)."
    if kind == "choice" and value != "" and value not in (definition.get("choices") or []):
        return f"{name} must be one of: {', '.join(definition.get('choices') or [])}."
    return None
