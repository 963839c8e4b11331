"""Comparison writes: keyword-only ``comparison_<action>`` functions, each one transaction.

A comparison groups runs the page already made (one ``chat.start`` per column over the websocket);
saving it checks that every run is one of the user's own and that each column's parameters are valid
for the registry, so a reopened comparison never shows someone else's run. It goes to the workspace
of its columns' conversations. Running a saved comparison again runs each column in its own
conversation and moves the comparison to the new runs (``comparison_update_runs``), so whoever
watches those conversations sees the new run live.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from playground.models import Comparison, Run
from playground.params import ParamError, validate
from playground.selectors.comparisons import comparison_get_for_user
from playground.selectors.conversations import conversation_list_for_user
from playground.services.runs import title_from_messages

MAX_COLUMNS = 12
LABEL_LENGTH = 120
TITLE_LENGTH = 200


class ComparisonError(ValueError):
    """A comparison the service refuses; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _clean_column(index: int, column: Any, runs: dict[int, int]) -> dict[str, Any]:
    where = f"columns[{index}]"
    if not isinstance(column, dict):
        raise ComparisonError(where, f"{where} must be an object.")
    run = column.get("run")
    if isinstance(run, bool) or not isinstance(run, int) or run not in runs:
        raise ComparisonError(f"{where}.run", f"{where}.run is not one of your runs.")
    model = column.get("model")
    if not isinstance(model, str) or not model:
        raise ComparisonError(f"{where}.model", f"{where}.model must be a model id.")
    try:
        params = validate(column.get("params") or {}, mode="chat")
    except ParamError as exc:
        raise ComparisonError(f"{where}.params.{exc.param}", exc.message) from None
    label = column.get("label")
    preset = column.get("preset")
    system = column.get("system")
    if system is not None and not isinstance(system, str):
        raise ComparisonError(
            f"{where}.system", f"{where}.system must be a string (the column's system prompt)."
        )
    return {
        "label": label[:LABEL_LENGTH] if isinstance(label, str) else "",
        "model": model,
        "params": params,
        "preset": preset if isinstance(preset, int) and not isinstance(preset, bool) else None,
        "run": run,
        "conversation": runs[run],
        # A preset's column keeps the preset's system prompt (None: the comparison's), to run again as it ran.
        "system": system,
    }


@transaction.atomic
def comparison_create(
    *,
    owner: Any,
    columns: Any,
    system_prompt: str = "",
    messages: Any = None,
    title: str = "",
    kind: str = Comparison.Kind.COMPARE,
    sweep: Any = None,
) -> Comparison:
    """Save a comparison of the user's runs; raises ComparisonError naming the field at fault."""
    if not isinstance(columns, list) or not 1 <= len(columns) <= MAX_COLUMNS:
        raise ComparisonError("columns", f"A comparison has 1 to {MAX_COLUMNS} columns.")
    if kind not in Comparison.Kind.values:
        raise ComparisonError("kind", f"kind must be one of {', '.join(Comparison.Kind.values)}.")
    messages = messages or []
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
    ):
        raise ComparisonError("messages", "messages must be a list of {role, content}.")
    if not isinstance(system_prompt, str):
        raise ComparisonError("system_prompt", "system_prompt must be a string.")
    if sweep is not None and not isinstance(sweep, dict):
        raise ComparisonError("sweep", "sweep must be an object.")
    ids = [c.get("run") for c in columns if isinstance(c, dict)]
    visible = conversation_list_for_user(user=owner).filter(owner=owner)

    rows = Run.objects.filter(conversation__in=visible, pk__in=[i for i in ids if isinstance(i, int)])
    found = list(rows.values_list("pk", "conversation_id", "conversation__workspace_id"))
    runs = {pk: conversation for pk, conversation, _ in found}
    cleaned = [_clean_column(i, c, runs) for i, c in enumerate(columns)]
    workspaces = {pk: workspace for pk, _, workspace in found}
    title = (title or title_from_messages(messages))[:200] if isinstance(title, str) else ""
    return Comparison.objects.create(
        owner=owner,
        workspace_id=workspaces[cleaned[0]["run"]],
        kind=kind,
        title=title,
        system_prompt=system_prompt,
        messages=[{"role": m["role"], "content": m.get("content", "")} for m in messages],
        columns=cleaned,
        sweep=sweep,
    )


@transaction.atomic
def comparison_update_runs(*, user: Any, comparison_id: int, columns: Any) -> Comparison:
    """After running a saved comparison again in place: each column's new run, model and parameters.

    Needs "run" on the comparison; there must be one entry per column, each new run one of the user's
    in that column's own conversation. Raises ComparisonError naming the field at fault.
    """
    comparison = comparison_get_for_user(
        user=user, comparison_id=comparison_id, action="run", for_update=True
    )
    if not isinstance(columns, list) or len(columns) != len(comparison.columns):
        raise ComparisonError("columns", f"Give the {len(comparison.columns)} columns' new runs.")
    ids = [c.get("run") for c in columns if isinstance(c, dict)]
    visible = conversation_list_for_user(user=user).filter(owner=user)
    runs = dict(
        Run.objects.filter(
            conversation__in=visible, pk__in=[i for i in ids if isinstance(i, int)]
        ).values_list("pk", "conversation_id")
    )
    updated = []
    for index, (old, column) in enumerate(zip(comparison.columns, columns, strict=True)):
        cleaned = _clean_column(index, column, runs)
        if cleaned["conversation"] != old.get("conversation"):
            where = f"columns[{index}].run"
            raise ComparisonError(where, f"{where} is not a run of that column's conversation.")
        updated.append({**old, **cleaned, "label": cleaned["label"] or old.get("label", "")})
    comparison.columns = updated
    comparison.save(update_fields=["columns"])
    return comparison


@transaction.atomic
def comparison_rename(*, user: Any, comparison_id: int, title: str) -> Comparison:
    """Give a saved comparison a title (the "edit" right: editors and owners who see it); "" clears it
    (it is then called "Comparison <id>"). Raises ComparisonError for a title over 200 characters."""
    comparison = comparison_get_for_user(
        user=user, comparison_id=comparison_id, action="edit", for_update=True
    )
    title = " ".join(str(title).split())
    if len(title) > TITLE_LENGTH:
        raise ComparisonError("title", f"A title is at most {TITLE_LENGTH} characters.")
    comparison.title = title
    comparison.save(update_fields=["title"])
    return comparison


@transaction.atomic
def comparison_delete(*, comparison: Comparison) -> None:
    """Delete a comparison; its columns' conversations and runs are kept."""
    comparison.delete()
