"""Saved-prompt writes: keyword-only ``prompt_<action>`` / ``version_<action>`` / ``label_<action>``
functions, each one transaction, each checking the user's right through the selectors (the policy is
``playground/permissions.py``, applied as for presets).

A version's content is checked by the one request builder (``proxy.frames.parse_start``), exactly as
Send would check it, so a saved version always makes a valid ``chat.start`` once its variables are
filled in; its variable definitions are checked here against the names its texts use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Max

from playground.models import Scope
from playground.prompts.models import PromptLabel, PromptVersion, SavedPrompt
from playground.prompts.selectors import prompt_get_for_user, prompt_list_for_user
from playground.prompts.template import (
    MAX_CHOICES,
    NAME,
    VARIABLE_TYPES,
    default_definition,
    start_variables,
    value_error,
)
from playground.selectors.workspaces import workspace_get_for_user
from proxy.frames import parse_start
from proxy.protocol import FrameError

NAME_LENGTH = SavedPrompt._meta.get_field("name").max_length or 120
MODEL_LENGTH = PromptVersion._meta.get_field("model").max_length or 300
NOTE_LENGTH = PromptVersion._meta.get_field("note").max_length or 500
LABEL_LENGTH = PromptLabel._meta.get_field("name").max_length or 40
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# The fields of a version as the page sends them (a chat.start without type, stream and conversation).
VERSION_FIELDS = ("mode", "model", "system", "messages", "prompt", "params", "extra", "variables")


class PromptError(ValueError):
    """A prompt, version or label the service refuses; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise PromptError("name", "A saved prompt needs a name.")
    if len(name.strip()) > NAME_LENGTH:
        raise PromptError("name", f"A prompt name is at most {NAME_LENGTH} characters.")
    return name.strip()


def _clean_note(note: Any) -> str:
    if note is None:
        return ""
    if not isinstance(note, str) or len(note) > NOTE_LENGTH:
        raise PromptError("note", f"A note is text of at most {NOTE_LENGTH} characters.")
    return note.strip()


def _clean_definition(raw: Any, name: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise PromptError("variables", f"The definition of {name} must be an object.")
    kind = raw.get("type", "text")
    if kind not in VARIABLE_TYPES:
        raise PromptError("variables", f"{name}: type must be one of {', '.join(VARIABLE_TYPES)}.")
    default = raw.get("default") if raw.get("default") is not None else ""
    definition: dict[str, Any] = {"name": name, "type": kind, "default": default}
    if kind == "choice":
        choices = raw.get("choices")
        if (
            not isinstance(choices, list)
            or not 1 <= len(choices) <= MAX_CHOICES
            or not all(isinstance(c, str) and c.strip() for c in choices)
            or len(set(choices)) != len(choices)
        ):
            raise PromptError(
                "variables", f"{name}: a choice needs 1 to {MAX_CHOICES} different, non-empty options."
            )
        definition["choices"] = choices
    problem = value_error(definition, default)
    if problem:
        raise PromptError("variables", f"Default of {problem}")
    return definition


def variables_clean(definitions: Any, names: list[str]) -> list[dict[str, Any]]:
    """One definition per variable the texts use, in their order (a name nobody described is one line of
    text); definitions of names the texts no longer use are dropped."""
    if definitions is None:
        definitions = []
    if not isinstance(definitions, list):
        raise PromptError("variables", "variables must be a list of definitions.")
    given: dict[str, Any] = {}
    for raw in definitions:
        name = raw.get("name") if isinstance(raw, Mapping) else None
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise PromptError("variables", "Each variable definition needs a name like topic or user_name.")
        given[name] = raw
    return [_clean_definition(given[n], n) if n in given else default_definition(n) for n in names]


def version_clean(data: Any) -> dict[str, Any]:
    """A version's fields, checked by the one request builder as Send would check them."""
    if not isinstance(data, Mapping):
        raise PromptError("version", "A version must be an object.")
    unknown = sorted(set(data) - set(VERSION_FIELDS))
    if unknown:
        raise PromptError(unknown[0], f"Unknown version field {unknown[0]!r}.")
    start = {k: data[k] for k in VERSION_FIELDS if k in data and k != "variables"}
    try:
        parsed = parse_start({"type": "chat.start", "stream": "version", **start})
    except FrameError as exc:
        raise PromptError(exc.param or "version", exc.message) from None
    if len(parsed.model) > MODEL_LENGTH:
        raise PromptError("model", f"model must be a model id of at most {MODEL_LENGTH} characters.")
    # Saved message ids (the page's) are not part of a prompt.
    messages = [{k: v for k, v in m.items() if k != "id"} for m in parsed.messages]
    system = parsed.system
    if (
        not system
        and messages
        and messages[0]["role"] == "system"
        and isinstance(messages[0]["content"], str)
    ):
        # The playground sends its system prompt as the first message: kept as the version's system.
        system, messages = messages[0]["content"], messages[1:]
    fields = {
        "mode": parsed.mode,
        "model": parsed.model,
        "system": system,
        "messages": messages,
        "prompt_text": parsed.prompt or "",
        "params": parsed.params,
        "extra": parsed.extra,
    }
    names = start_variables({"system": system, "messages": messages, "prompt": parsed.prompt})
    fields["variables"] = variables_clean(data.get("variables"), names)
    return fields


def _next_version(prompt: SavedPrompt, *, user: Any, fields: dict[str, Any], note: str) -> PromptVersion:
    last = prompt.versions.aggregate(n=Max("number"))["n"] or 0
    version = PromptVersion.objects.create(
        prompt=prompt, number=last + 1, note=note, created_by=user, **fields
    )
    prompt.save(update_fields=["updated_at"])
    return version


@transaction.atomic
def prompt_create(
    *, user: Any, workspace_id: int, name: Any, scope: Any = Scope.PERSONAL, version: Any, note: Any = ""
) -> PromptVersion:
    """Save a new prompt with its first version. ``scope="workspace"`` puts it in the library of
    ``workspace_id`` (editors and owners: PermissionDenied for a viewer); personal, it is the user's own."""
    clean_name = _clean_name(name)
    if scope not in Scope.values:
        raise PromptError("scope", f"scope must be one of {', '.join(Scope.values)}.")
    workspace_get_for_user(
        user=user, workspace_id=workspace_id, action="create" if scope == Scope.WORKSPACE else "view"
    )
    fields = version_clean(version)
    seen_here = prompt_list_for_user(user=user, workspace_id=workspace_id).filter(workspace_id=workspace_id)
    if seen_here.filter(name=clean_name).exists():
        raise PromptError(
            "name", f"There is already a prompt named {clean_name!r} here: save a version of it."
        )
    prompt = SavedPrompt.objects.create(owner=user, workspace_id=workspace_id, scope=scope, name=clean_name)
    return _next_version(prompt, user=user, fields=fields, note=_clean_note(note))


@transaction.atomic
def version_create(*, user: Any, prompt_id: int, version: Any, note: Any = "") -> PromptVersion:
    """Save the next version of a prompt (the "edit" right: editors and owners of a library prompt, the
    author of a personal one). Earlier versions never change."""
    prompt = prompt_get_for_user(user=user, prompt_id=prompt_id, action="edit", for_update=True)
    fields = version_clean(version)
    return _next_version(prompt, user=user, fields=fields, note=_clean_note(note))


@transaction.atomic
def label_set(*, user: Any, prompt_id: int, name: Any, version_id: Any) -> PromptLabel:
    """Point the label ``name`` of a prompt at one of its versions (made, or moved from another)."""
    prompt = prompt_get_for_user(user=user, prompt_id=prompt_id, action="edit", for_update=True)
    if not isinstance(name, str) or not LABEL.fullmatch(name.strip()) or len(name.strip()) > LABEL_LENGTH:
        raise PromptError(
            "name",
            f"A label is one word of at most {LABEL_LENGTH} letters, digits, '-', '_' or '.' "
            "(like production).",
        )
    version = prompt.versions.filter(pk=version_id).first() if isinstance(version_id, int) else None
    if version is None:
        raise PromptError("version", "That version is not one of this prompt's.")
    label, _ = PromptLabel.objects.update_or_create(
        prompt=prompt, name=name.strip(), defaults={"version": version, "set_by": user}
    )
    prompt.save(update_fields=["updated_at"])
    return label


@transaction.atomic
def label_remove(*, user: Any, prompt_id: int, name: str) -> bool:
    """Take a label off the prompt; False when it had none by that name."""
    prompt = prompt_get_for_user(user=user, prompt_id=prompt_id, action="edit", for_update=True)
    deleted, _ = PromptLabel.objects.filter(prompt=prompt, name=name).delete()
    return bool(deleted)


@transaction.atomic
def prompt_delete(*, user: Any, prompt_id: int) -> None:
    """Delete a prompt with its versions and labels (its author, or an owner for a library prompt)."""
    prompt_get_for_user(user=user, prompt_id=prompt_id, action="delete", for_update=True).delete()
