"""Preset writes: keyword-only ``preset_<action>`` functions, each one transaction.

Every value is checked against the one parameter registry (``playground.params.validate``) here, not
only in forms or the page, so a preset can never hold a value the API would refuse for its range.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from playground.models import Mode, Preset, Scope
from playground.params import PARAMS_BY_NAME, ParamError, validate
from playground.permissions import Facts, can
from playground.selectors.presets import EXPORT_FORMAT, PRESET_FIELDS
from playground.selectors.workspaces import role_of, workspace_get_for_user

NAME_LENGTH = Preset._meta.get_field("name").max_length or 120
MODEL_LENGTH = Preset._meta.get_field("model").max_length or 300
# Body fields the playground fills from the preset itself: extra must not override them.
RESERVED_EXTRA = frozenset({"model", "messages", "prompt", "stream"})
NOT_YOUR_DEFAULT = "Only your own presets can be your default: copy this one to My presets first."


class PresetError(ValueError):
    """A preset the service refuses; ``field`` names the field or parameter, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def preset_clean(
    *,
    name: Any,
    mode: Any = Mode.CHAT,
    model: Any = "",
    system_prompt: Any = "",
    params: Any = None,
    extra: Any = None,
) -> dict[str, Any]:
    """Check a preset's fields and return them cleaned; raises PresetError naming what is wrong."""
    if not isinstance(name, str) or not name.strip():
        raise PresetError("name", "A preset needs a name.")
    name = name.strip()
    if len(name) > NAME_LENGTH:
        raise PresetError("name", f"A preset name is at most {NAME_LENGTH} characters.")
    if mode not in Mode.values:
        raise PresetError("mode", f"mode must be one of {', '.join(Mode.values)}; got {mode!r}.")
    if not isinstance(model, str) or len(model) > MODEL_LENGTH:
        raise PresetError("model", f"model must be a model id of at most {MODEL_LENGTH} characters.")
    if not isinstance(system_prompt, str):
        raise PresetError("system_prompt", "system_prompt must be a string.")
    try:
        cleaned = validate(params or {}, mode=mode)
    except ParamError as exc:
        raise PresetError(exc.param, exc.message) from None
    extra = extra or {}
    if not isinstance(extra, dict):
        raise PresetError("extra", "extra must be a JSON object of field → value.")
    for key in extra:
        if key in PARAMS_BY_NAME:
            allowed = PARAMS_BY_NAME[key].range_text()
            raise PresetError(
                key, f"{key} is a parameter ({allowed}): set it in params, where it is checked, not in extra."
            )
        if key in RESERVED_EXTRA:
            raise PresetError("extra", f"extra cannot set {key!r}: the playground fills it in.")
    return {
        "name": name,
        "mode": mode,
        "model": model.strip(),
        "system_prompt": system_prompt,
        "params": cleaned,
        "extra": extra,
    }


def _check_name_free(*, owner: Any, name: str, exclude: int | None = None) -> None:
    taken = Preset.objects.filter(owner=owner, name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise PresetError("name", f"You already have a preset named {name!r}.")


def _make_default(preset: Preset, *, user: Any = None) -> None:
    # A default is personal: only your own preset (personal or one you put in a library) can be yours,
    # and it never becomes another member's default (selectors.presets reads it for its owner only).
    if user is not None and preset.owner_id != user.pk:
        raise PermissionDenied(NOT_YOUR_DEFAULT)
    # Lock the owner's presets so that two requests cannot both leave a default behind.
    others = Preset.objects.select_for_update().filter(owner_id=preset.owner_id, is_default=True)
    others.exclude(pk=preset.pk).update(is_default=False)
    preset.is_default = True


@transaction.atomic
def preset_create(
    *,
    owner: Any,
    name: str,
    mode: str = Mode.CHAT,
    model: str = "",
    system_prompt: str = "",
    params: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    is_default: bool = False,
    scope: str = Scope.PERSONAL,
    workspace_id: int | None = None,
) -> Preset:
    """Save a new named preset for ``owner``; with ``is_default`` it replaces the owner's default.

    A ``scope="workspace"`` preset goes to the library of ``workspace_id`` (the owner must be an
    editor or owner there).
    """
    fields = preset_clean(
        name=name, mode=mode, model=model, system_prompt=system_prompt, params=params, extra=extra
    )
    if scope not in Scope.values:
        raise PresetError("scope", f"scope must be one of {', '.join(Scope.values)}.")
    if scope == Scope.WORKSPACE:
        if workspace_id is None:
            raise PresetError("scope", "A workspace preset needs a workspace.")
        workspace_get_for_user(user=owner, workspace_id=workspace_id, action="create")
    _check_name_free(owner=owner, name=fields["name"])
    preset = Preset(owner=owner, scope=scope, workspace_id=workspace_id, **fields)
    if is_default:
        _make_default(preset)
    preset.save()
    return preset


@transaction.atomic
def preset_update(*, preset: Preset, data: dict[str, Any], user: Any) -> Preset:
    """Change some of a preset's fields (rename with ``{"name": ...}``), checked like a new one; ``user``
    is who changes it (only its owner may make it their default)."""
    unknown = set(data) - set(PRESET_FIELDS)
    if unknown:
        raise PresetError(sorted(unknown)[0], f"Unknown preset field {sorted(unknown)[0]!r}.")
    current = {field: getattr(preset, field) for field in PRESET_FIELDS if field != "is_default"}
    merged = {**current, **{k: v for k, v in data.items() if k != "is_default"}}
    fields = preset_clean(**merged)
    if fields["name"] != preset.name:
        _check_name_free(owner=preset.owner, name=fields["name"], exclude=preset.pk)
    for field, value in fields.items():
        setattr(preset, field, value)
    if "is_default" in data:
        if data["is_default"]:
            _make_default(preset, user=user)
        else:
            preset.is_default = False
    preset.save()
    return preset


@transaction.atomic
def preset_move(*, user: Any, preset: Preset, scope: str, workspace_id: int | None = None) -> Preset:
    """Move a preset between "My presets" and a workspace's library.

    To the library (``scope="workspace"``): the user's own personal preset, into ``workspace_id``
    where they need the "create" right (editors and owners). Back to "My presets": their own library
    preset ("set_visibility"). Anything else raises PermissionDenied; the same scope is a no-op.
    """
    if scope not in Scope.values:
        raise PresetError("scope", f"scope must be one of {', '.join(Scope.values)}.")
    if scope == preset.scope and (scope == Scope.PERSONAL or preset.workspace_id == workspace_id):
        return preset
    mine = preset.owner_id == user.pk
    if scope == Scope.WORKSPACE:
        if workspace_id is None:
            raise PresetError("scope", "A workspace preset needs a workspace.")
        if not mine or preset.scope != Scope.PERSONAL:
            raise PermissionDenied("Only your own presets can be moved to a library.")
        workspace_get_for_user(user=user, workspace_id=workspace_id, action="create")
        preset.workspace_id = workspace_id
    else:
        role = role_of(user=user, workspace_id=preset.workspace_id)
        if not can(role, "set_visibility", Facts(shared=True, mine=mine, signed_in=True)):
            raise PermissionDenied("Only its author (an editor or owner) can take it out of the library.")
    preset.scope = scope
    preset.save(update_fields=["scope", "workspace", "updated_at"])
    return preset


@transaction.atomic
def preset_set_default(*, preset: Preset, user: Any, is_default: bool = True) -> Preset:
    """Make ``preset`` the default for its owner's new conversations (or stop it being the default);
    ``user`` must be its owner: a default is personal, also for a preset in a workspace's library."""
    if preset.owner_id != user.pk:
        raise PermissionDenied(NOT_YOUR_DEFAULT)
    if is_default:
        _make_default(preset, user=user)
    else:
        preset.is_default = False
    preset.save(update_fields=["is_default", "updated_at"])
    return preset


@transaction.atomic
def preset_delete(*, preset: Preset) -> None:
    """Delete a preset (a default preset just leaves no default)."""
    preset.delete()


def _import_items(data: Any) -> list[Any]:
    if isinstance(data, dict) and "presets" in data:
        if data.get("format") not in (None, EXPORT_FORMAT):
            raise PresetError("file", f"This is not a presets file (format {data.get('format')!r}).")
        items = data["presets"]
    elif isinstance(data, dict):
        items = [data]  # one preset on its own
    else:
        items = data
    if not isinstance(items, list) or not items:
        raise PresetError("file", "A presets file holds a 'presets' list with at least one preset.")
    return items


@transaction.atomic
def preset_import(*, owner: Any, data: Any) -> list[Preset]:
    """Create or overwrite (by name) the presets of an export; all or nothing, every value checked.

    Errors say which preset (by position and name) and which field or parameter is wrong.
    """
    items = _import_items(data)
    cleaned: list[tuple[dict[str, Any], bool]] = []
    for index, item in enumerate(items, start=1):
        label = f"Preset {index}"
        if not isinstance(item, dict):
            raise PresetError("file", f"{label} is not an object.")
        label += f" ({item.get('name')!r})" if isinstance(item.get("name"), str) else ""
        unknown = set(item) - set(PRESET_FIELDS) - {"id", "updated_at"}
        if unknown:
            raise PresetError("file", f"{label}: unknown field {sorted(unknown)[0]!r}.")
        fields = {k: item[k] for k in PRESET_FIELDS if k in item and k != "is_default"}
        try:
            cleaned.append((preset_clean(**{"name": None, **fields}), bool(item.get("is_default"))))
        except PresetError as exc:
            raise PresetError(exc.field, f"{label}: {exc.message}") from None
    names = [fields["name"] for fields, _ in cleaned]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PresetError("name", f"The file has two presets named {duplicates[0]!r}.")
    if sum(default for _, default in cleaned) > 1:
        raise PresetError("is_default", "The file marks more than one preset as the default.")
    existing = {p.name: p for p in Preset.objects.select_for_update().filter(owner=owner, name__in=names)}
    saved = []
    for fields, default in cleaned:
        preset = existing.get(fields["name"]) or Preset(owner=owner)
        for field, value in fields.items():
            setattr(preset, field, value)
        if default:
            _make_default(preset)
        preset.save()
        saved.append(preset)
    return saved
