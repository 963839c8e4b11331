"""Preset reads, with who may see which preset decided in one place (``preset_list_for_user``).

A personal preset is seen by its owner only (in every workspace); a workspace preset is in that
workspace's library, seen by all its members (playground/permissions.py decides who may change it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from playground.models import Membership, Preset, Scope
from playground.params import PARAMS, PARAMS_BY_NAME
from playground.permissions import can, scoped
from playground.selectors.workspaces import member_role, scoped_visible_q

EXPORT_FORMAT = "fireworks-playground/presets"
EXPORT_VERSION = 1
# The fields of a preset that an export holds and an import reads, in this order.
PRESET_FIELDS = ("name", "mode", "model", "system_prompt", "params", "extra", "is_default")


def preset_list_for_user(*, user: Any, workspace_id: int | None = None) -> QuerySet[Preset]:
    """The presets the user may see and use, by name: their personal ones and the library of their
    workspaces (of ``workspace_id`` only, when given)."""
    if not getattr(user, "is_authenticated", False):
        return Preset.objects.none()
    return Preset.objects.filter(scoped_visible_q(user=user, workspace_id=workspace_id)).order_by("name")


def preset_get_for_user(
    *, user: Any, preset_id: int, action: str = "view", for_update: bool = False
) -> Preset:
    """One preset the user may see, if their role allows ``action`` on it; raises Preset.DoesNotExist
    for any other and PermissionDenied when they may see it but not do ``action``."""
    queryset = preset_list_for_user(user=user).annotate(member_role=member_role(user=user))
    if for_update:
        queryset = queryset.select_for_update()
    preset = queryset.get(pk=preset_id)
    mine = preset.owner_id == user.pk
    role_name, facts = scoped(preset.member_role, mine=mine, personal=preset.scope == Scope.PERSONAL)
    if not can(role_name, action, facts):
        raise PermissionDenied(f"Your role ({role_name}) cannot {action} this preset.")
    return preset


def preset_rights(
    preset: Preset, *, user: Any, role: str | None, current_role: str | None
) -> dict[str, bool]:
    """What the user may do with one preset they see: ``role`` is theirs in the preset's workspace,
    ``current_role`` theirs in the current workspace (where a personal preset would be published).

    ``edit`` (update, rename, make default) and ``delete`` follow the policy; ``move`` is publishing a
    personal preset to the current workspace's library (the "create" right there, so not for viewers)
    or taking one's own library preset back to "My presets" (the "set_visibility" right).
    """
    mine = preset.owner_id == user.pk
    personal = preset.scope == Scope.PERSONAL
    role_name, facts = scoped(role, mine=mine, personal=personal)
    move = (mine and can(current_role, "create")) if personal else can(role, "set_visibility", facts)
    return {
        "edit": can(role_name, "edit", facts),
        "delete": can(role_name, "delete", facts),
        "move": move,
        # A default is personal: only your own presets, also those you put in a library.
        "default": mine and can(role_name, "edit", facts),
    }


def preset_list_with_rights(*, user: Any, current_workspace_id: int | None) -> list[Preset]:
    """The presets the user sees (``preset_list_for_user``), each with ``rights`` (``preset_rights``)
    and ``in_current`` (personal, or in the current workspace's library). Two queries."""
    presets = list(
        preset_list_for_user(user=user).select_related("owner").annotate(member_role=member_role(user=user))
    )
    current_role = (
        Membership.objects.filter(user=user, workspace_id=current_workspace_id)
        .values_list("role", flat=True)
        .first()
        if current_workspace_id is not None
        else None
    )
    for preset in presets:
        preset.rights = preset_rights(preset, user=user, role=preset.member_role, current_role=current_role)
        preset.in_current = preset.scope == Scope.PERSONAL or preset.workspace_id == current_workspace_id
        preset.my_default = preset_is_default_for(preset, user=user)
    return presets


def preset_is_default_for(preset: Preset, *, user: Any) -> bool:
    """Whether new conversations of ``user`` start from this preset: a default is its owner's alone, also
    once the preset is in a workspace's library (the other members see no default mark)."""
    return bool(preset.is_default and preset.owner_id == getattr(user, "pk", None))


def preset_default_for_user(*, user: Any) -> Preset | None:
    """The preset the user's new conversations start from, if one is marked (their own, never a
    teammate's default in a shared library)."""
    return preset_list_for_user(user=user).filter(is_default=True, owner=user).first()


def preset_data(preset: Preset) -> dict[str, Any]:
    """A preset as plain data: the exported fields (what an import reads back)."""
    return {field: getattr(preset, field) for field in PRESET_FIELDS}


def preset_api_data(preset: Preset, *, user: Any) -> dict[str, Any]:
    """A preset as the playground page uses it: the exported fields plus its id and last change;
    ``is_default`` says whether it is ``user``'s default (``preset_is_default_for``)."""
    data = {
        "id": preset.pk,
        **preset_data(preset),
        "is_default": preset_is_default_for(preset, user=user),
        "scope": preset.scope,
        "workspace": preset.workspace_id,
        "updated_at": preset.updated_at.isoformat(),
    }
    rights = getattr(preset, "rights", None)
    if rights is not None:
        data["rights"] = rights
    return data


def preset_export(*, user: Any, preset_ids: list[int] | None = None) -> dict[str, Any]:
    """The user's presets (all, or those with the given ids) as an importable JSON document."""
    presets = preset_list_for_user(user=user)
    if preset_ids:
        presets = presets.filter(pk__in=preset_ids)
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "presets": [{**preset_data(p), "is_default": preset_is_default_for(p, user=user)} for p in presets],
    }


@dataclass(frozen=True)
class DiffRow:
    """One line of a side-by-side comparison: a field, both values as shown, and whether they differ."""

    field: str
    group: str
    left: str
    right: str
    differs: bool


def _shown(value: Any, *, param: str | None = None) -> str:
    if value is None:
        if param is not None:
            default = PARAMS_BY_NAME[param].default
            return "unset" if default is None else f"unset (default {default})"
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def settings_compare(
    left: Mapping[str, Any], right: Mapping[str, Any], *, fields: tuple[str, ...] = ("mode", "model")
) -> list[DiffRow]:
    """Two sets of settings (``fields``, ``params`` and ``extra`` of a preset, a prompt version…) field
    by field: the fields, each parameter either sets (registry order), then extra."""
    rows = []
    for field in fields:
        a, b = left.get(field), right.get(field)
        rows.append(DiffRow(field, "Settings", _shown(a) or "(empty)", _shown(b) or "(empty)", a != b))
    left_params, right_params = left.get("params") or {}, right.get("params") or {}
    for p in PARAMS:
        if p.name in left_params or p.name in right_params:
            a, b = left_params.get(p.name), right_params.get(p.name)
            rows.append(DiffRow(p.name, p.group, _shown(a, param=p.name), _shown(b, param=p.name), a != b))
    left_extra, right_extra = left.get("extra") or {}, right.get("extra") or {}
    for key in sorted(set(left_extra) | set(right_extra)):
        a, b = left_extra.get(key), right_extra.get(key)
        missing_a, missing_b = key not in left_extra, key not in right_extra
        rows.append(
            DiffRow(
                key,
                "Extra body",
                "absent" if missing_a else _shown(a),
                "absent" if missing_b else _shown(b),
                missing_a != missing_b or a != b,
            )
        )
    return rows


def preset_compare(left: Preset, right: Preset) -> list[DiffRow]:
    """Both presets field by field: settings, each parameter either sets (registry order), then extra."""
    return settings_compare(preset_data(left), preset_data(right), fields=("mode", "model", "system_prompt"))
