"""Preset reads, with who may see which preset decided in one place (``preset_list_for_user``).

Presets are personal for now; workspace-shared presets (a later issue) change only that function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from playground.models import Preset
from playground.params import PARAMS, PARAMS_BY_NAME

EXPORT_FORMAT = "fireworks-playground/presets"
EXPORT_VERSION = 1
# The fields of a preset that an export holds and an import reads, in this order.
PRESET_FIELDS = ("name", "mode", "model", "system_prompt", "params", "extra", "is_default")


def preset_list_for_user(*, user: Any) -> QuerySet[Preset]:
    """The presets the user may see and use, by name."""
    if not getattr(user, "is_authenticated", False):
        return Preset.objects.none()
    return Preset.objects.filter(owner=user).order_by("name")


def preset_get_for_user(*, user: Any, preset_id: int, for_update: bool = False) -> Preset:
    """One preset the user may see; raises Preset.DoesNotExist for any other."""
    queryset = preset_list_for_user(user=user)
    if for_update:
        queryset = queryset.select_for_update()
    return queryset.get(pk=preset_id)


def preset_default_for_user(*, user: Any) -> Preset | None:
    """The preset the user's new conversations start from, if one is marked."""
    return preset_list_for_user(user=user).filter(is_default=True).first()


def preset_data(preset: Preset) -> dict[str, Any]:
    """A preset as plain data: the exported fields (what an import reads back)."""
    return {field: getattr(preset, field) for field in PRESET_FIELDS}


def preset_api_data(preset: Preset) -> dict[str, Any]:
    """A preset as the playground page uses it: the exported fields plus its id and last change."""
    return {"id": preset.pk, **preset_data(preset), "updated_at": preset.updated_at.isoformat()}


def preset_export(*, user: Any, preset_ids: list[int] | None = None) -> dict[str, Any]:
    """The user's presets (all, or those with the given ids) as an importable JSON document."""
    presets = preset_list_for_user(user=user)
    if preset_ids:
        presets = presets.filter(pk__in=preset_ids)
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "presets": [preset_data(p) for p in presets],
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


def preset_compare(left: Preset, right: Preset) -> list[DiffRow]:
    """Both presets field by field: settings, each parameter either sets (registry order), then extra."""
    rows = []
    for field in ("mode", "model", "system_prompt"):
        a, b = getattr(left, field), getattr(right, field)
        rows.append(DiffRow(field, "Settings", _shown(a) or "(empty)", _shown(b) or "(empty)", a != b))
    for p in PARAMS:
        if p.name in left.params or p.name in right.params:
            a, b = left.params.get(p.name), right.params.get(p.name)
            rows.append(DiffRow(p.name, p.group, _shown(a, param=p.name), _shown(b, param=p.name), a != b))
    for key in sorted(set(left.extra) | set(right.extra)):
        a, b = left.extra.get(key), right.extra.get(key)
        missing_a, missing_b = key not in left.extra, key not in right.extra
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
