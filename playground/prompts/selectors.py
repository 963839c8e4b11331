"""Saved-prompt reads, with who may see and do what decided as for presets: a personal prompt is its
author's, a workspace prompt is in that workspace's library (``scoped_visible_q``, ``permissions.scoped``).

``version_snapshot`` is what the eval runner (and anything else that runs a saved prompt) reads: the
``chat.start``-shaped request, its model, parameters and variable definitions, with ids and labels.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Prefetch, QuerySet

from playground.models import Scope
from playground.permissions import can, scoped
from playground.prompts.models import PromptLabel, PromptVersion, SavedPrompt
from playground.selectors.presets import DiffRow, settings_compare
from playground.selectors.workspaces import member_role, scoped_visible_q

# What a user may do with a prompt they see, by the policy's action names.
RIGHTS = {"save_version": "edit", "label": "edit", "delete": "delete"}


def prompt_list_for_user(*, user: Any, workspace_id: int | None = None) -> QuerySet[SavedPrompt]:
    """The saved prompts the user sees (their personal ones and their workspaces' libraries; of
    ``workspace_id`` only, when given), by name, each with ``latest`` (its newest version number) and
    ``version_count``."""
    if not getattr(user, "is_authenticated", False):
        return SavedPrompt.objects.none()
    return (
        SavedPrompt.objects.filter(scoped_visible_q(user=user, workspace_id=workspace_id))
        .annotate(latest=Max("versions__number"), version_count=Count("versions"))
        .order_by("name", "pk")
    )


def _role_facts(prompt: SavedPrompt, *, user: Any) -> tuple[str | None, Any]:
    return scoped(
        getattr(prompt, "member_role", None),
        mine=prompt.owner_id == user.pk,
        personal=prompt.scope == Scope.PERSONAL,
    )


def prompt_get_for_user(
    *, user: Any, prompt_id: int, action: str = "view", for_update: bool = False
) -> SavedPrompt:
    """One prompt the user may see, if their role allows ``action`` on it; SavedPrompt.DoesNotExist for
    any other, PermissionDenied when they may see it but not do ``action``."""
    if not getattr(user, "is_authenticated", False):
        raise SavedPrompt.DoesNotExist("No such prompt.")
    queryset = SavedPrompt.objects.filter(scoped_visible_q(user=user)).annotate(
        member_role=member_role(user=user)
    )
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    prompt = queryset.get(pk=prompt_id)
    role, facts = _role_facts(prompt, user=user)
    if not can(role, action, facts):
        raise PermissionDenied(f"Your role ({role}) cannot {action} this prompt.")
    return prompt


def prompt_rights(prompt: SavedPrompt, *, user: Any) -> dict[str, bool]:
    """What the user may do with a prompt from ``prompt_get_for_user``: save_version, label, delete."""
    role, facts = _role_facts(prompt, user=user)
    return {right: can(role, action, facts) for right, action in RIGHTS.items()}


def version_list(prompt: SavedPrompt) -> QuerySet[PromptVersion]:
    """The prompt's versions, newest first, with who saved each and its labels."""
    return prompt.versions.select_related("created_by").prefetch_related(
        Prefetch("labels", queryset=PromptLabel.objects.order_by("name"))
    )


def version_get_for_user(*, user: Any, version_id: int) -> PromptVersion:
    """One version of a prompt the user may see; PromptVersion.DoesNotExist otherwise."""
    visible = SavedPrompt.objects.filter(scoped_visible_q(user=user)) if user.is_authenticated else None
    if visible is None:
        raise PromptVersion.DoesNotExist("No such version.")
    return (
        PromptVersion.objects.select_related("prompt", "created_by")
        .prefetch_related("labels")
        .get(pk=version_id, prompt__in=visible)
    )


def version_start(version: PromptVersion) -> dict[str, Any]:
    """The version as the fields of a ``chat.start`` (without type, stream and conversation), its
    ``{{variables}}`` not yet filled: give it ``variables`` (or fill it with ``render_start``) to send it."""
    start: dict[str, Any] = {"mode": version.mode, "model": version.model, "system": version.system}
    if version.mode == "completions":
        start["prompt"] = version.prompt_text
    else:
        start["messages"] = version.messages
    start["params"] = version.params
    if version.extra:
        start["extra"] = version.extra
    return start


def _labels(version: PromptVersion) -> list[str]:
    return sorted(label.name for label in version.labels.all())


def version_data(version: PromptVersion) -> dict[str, Any]:
    """A version as the pages use it: its request fields, variable definitions, note, who and when."""
    return {
        "id": version.pk,
        "prompt": {"id": version.prompt_id, "name": version.prompt.name},
        "number": version.number,
        "note": version.note,
        "labels": _labels(version),
        "created_by": version.created_by.get_username() if version.created_by else None,
        "created_at": version.created_at.isoformat(),
        "start": version_start(version),
        "variables": version.variables,
    }


def version_snapshot(version: PromptVersion) -> dict[str, Any]:
    """Everything needed to run a version, as plain data (the eval runner keeps it with its results):
    ``start`` (the chat.start-shaped request, variables not filled), ``model``, ``params``, ``extra``,
    ``variables`` (definitions: name, type, default, choices), ``prompt_id``, ``prompt_name``,
    ``version_id``, ``version`` (its number), ``note``, ``labels`` and ``created_at``."""
    return {
        "prompt_id": version.prompt_id,
        "prompt_name": version.prompt.name,
        "version_id": version.pk,
        "version": version.number,
        "note": version.note,
        "labels": _labels(version),
        "created_at": version.created_at.isoformat(),
        "start": version_start(version),
        "model": version.model,
        "params": version.params,
        "extra": version.extra,
        "variables": version.variables,
    }


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(p.get("text", "") if p.get("type") == "text" else "[image]" for p in content)
    return content if isinstance(content, str) else ""


def _variable_shown(definition: dict[str, Any] | None) -> str:
    if definition is None:
        return "absent"
    shown = str(definition["type"]).replace("_", " ")
    if definition.get("choices"):
        shown += f" ({' / '.join(definition['choices'])})"
    if definition.get("default"):
        shown += f", default {definition['default']!r}"
    return shown


def version_compare(left: PromptVersion, right: PromptVersion) -> dict[str, Any]:
    """Two versions side by side: ``texts`` (system prompt, each message or the prompt: label, left,
    right; the page shows their word diff) and ``settings`` (mode, model, each parameter either sets,
    extra fields and the variables' definitions, each with ``differs``)."""
    texts = [{"label": "System prompt", "left": left.system, "right": right.system}]
    if "completions" in (left.mode, right.mode):
        texts.append({"label": "Prompt", "left": left.prompt_text, "right": right.prompt_text})
    count = max(len(left.messages), len(right.messages))
    for index in range(count):
        a = left.messages[index] if index < len(left.messages) else None
        b = right.messages[index] if index < len(right.messages) else None
        role = (b or a or {}).get("role", "")
        texts.append(
            {
                "label": f"Message {index + 1} ({role})",
                "left": _message_text(a) if a else "",
                "right": _message_text(b) if b else "",
            }
        )
    rows = settings_compare(
        {"mode": left.mode, "model": left.model, "params": left.params, "extra": left.extra},
        {"mode": right.mode, "model": right.model, "params": right.params, "extra": right.extra},
    )
    a_vars = {d["name"]: d for d in left.variables}
    b_vars = {d["name"]: d for d in right.variables}
    for name in [*a_vars, *(n for n in b_vars if n not in a_vars)]:
        a_shown, b_shown = _variable_shown(a_vars.get(name)), _variable_shown(b_vars.get(name))
        rows.append(DiffRow(name, "Variables", a_shown, b_shown, a_shown != b_shown))
    return {
        "texts": [{**t, "differs": t["left"] != t["right"]} for t in texts],
        "settings": [dataclasses.asdict(row) for row in rows],
    }
