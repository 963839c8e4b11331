"""Reads of test sets and eval runs, with who may see what decided by playground/permissions.py.

A test set is seen like a preset (its owner when personal, every member of its workspace when shared);
an eval run like its conversation (``EvalRun.conversation``), share links included.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from playground.evals.models import EvalCell, EvalRun, TestSet
from playground.models import Conversation, Scope
from playground.permissions import can, scoped
from playground.pricing.selectors import cost_sum, timings_cost
from playground.selectors.conversations import conversation_get_for_user, conversation_list_for_user
from playground.selectors.sharing import conversation_for_viewer
from playground.selectors.workspaces import member_role, scoped_visible_q

EXPORT_FORMAT = "fireworks-playground/eval"


def test_set_list_for_user(*, user: Any, workspace_id: int | None = None) -> QuerySet[TestSet]:
    """The test sets the user may see: their personal ones and their workspaces' shared ones."""
    if not getattr(user, "is_authenticated", False):
        return TestSet.objects.none()
    visible = scoped_visible_q(user=user, workspace_id=workspace_id)
    return TestSet.objects.filter(visible).order_by("name", "pk")


def test_set_get_for_user(
    *, user: Any, test_set_id: int, action: str = "view", for_update: bool = False
) -> TestSet:
    """One test set the user may see, if their role allows ``action``; TestSet.DoesNotExist for any
    other, PermissionDenied when they see it but may not do ``action`` (scoped like a preset)."""
    queryset = test_set_list_for_user(user=user).annotate(member_role=member_role(user=user))
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    test_set = queryset.get(pk=test_set_id)
    role, facts = scoped(
        test_set.member_role, mine=test_set.owner_id == user.pk, personal=test_set.scope == Scope.PERSONAL
    )
    if not can(role, action, facts):
        raise PermissionDenied(f"Your role ({role}) cannot {action} this test set.")
    return test_set


def test_set_data(test_set: TestSet) -> dict[str, Any]:
    """A test set as the editor reads it."""
    return {
        "id": test_set.pk,
        "name": test_set.name,
        "scope": test_set.scope,
        "variables": test_set.variables,
        "rows": test_set.rows,
        "updated_at": test_set.updated_at.isoformat() if test_set.updated_at else None,
    }


def eval_list_for_user(*, user: Any, workspace_id: int | None = None) -> QuerySet[EvalRun]:
    """The eval runs whose conversation the user may view, newest first."""
    conversations = conversation_list_for_user(user=user, workspace_id=workspace_id)
    return EvalRun.objects.filter(conversation__in=conversations).order_by("-created_at", "-pk")


def eval_get_for_user(*, user: Any, eval_id: int, action: str = "view") -> EvalRun:
    """One eval run the user may see as a member, if their role allows ``action`` on its conversation;
    EvalRun.DoesNotExist (also for one they may not see), PermissionDenied as for a conversation."""
    eval_run = EvalRun.objects.filter(pk=eval_id).first()
    if eval_run is None:
        raise EvalRun.DoesNotExist("No such eval.")
    try:
        conversation_get_for_user(user=user, conversation_id=eval_run.conversation_id, action=action)
    except Conversation.DoesNotExist:
        raise EvalRun.DoesNotExist("No such eval.") from None
    return eval_run


def eval_for_viewer(*, user: Any, eval_id: int | None = None, share_token: str | None = None) -> EvalRun:
    """The eval a member may view, or that a share link (of its conversation) opens, read-only.
    Raises EvalRun.DoesNotExist, or ShareLinkGone (expired or revoked link)."""
    conversation_id = None
    if eval_id is not None:
        conversation_id = EvalRun.objects.filter(pk=eval_id).values_list("conversation_id", flat=True).first()
        if conversation_id is None:
            raise EvalRun.DoesNotExist("No such eval.")
    try:
        conversation = conversation_for_viewer(
            user=user, conversation_id=conversation_id, share_token=share_token
        )
        eval_run = EvalRun.objects.get(conversation=conversation)
    except Conversation.DoesNotExist:
        raise EvalRun.DoesNotExist("No such eval.") from None
    eval_run.via_share_link = getattr(conversation, "via_share_link", None)  # type: ignore[attr-defined]
    return eval_run


def cell_data(cell: EvalCell) -> dict[str, Any]:
    """One cell as the grid and its frames carry it."""
    return {
        "id": cell.pk,
        "row": cell.row,
        "column": cell.column,
        "sample": cell.sample,
        "status": cell.status,
        "run": cell.run_id,
        "answer": cell.answer,
        "figures": cell.figures,
        "usage": cell.usage,
        "cost": timings_cost(cell.figures),
        "scores": cell.scores,
        "passed": cell.passed,
        "error": (cell.error or {}).get("message") if cell.error else None,
        "attempts": cell.attempts,
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _p95(values: list[float]) -> float | None:
    """The 95th percentile, nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 2)


def _numbers(cells: list[EvalCell], name: str) -> list[float]:
    out = []
    for cell in cells:
        value = (cell.figures or {}).get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(float(value))
    return out


def _scorer_pass_rates(finished: list[EvalCell]) -> list[float | None]:
    """Each scorer's pass rate (by its place in the eval's scorers) over the cells it judged."""
    verdicts: dict[int, list[bool]] = {}
    for cell in finished:
        for i, score in enumerate(cell.scores or []):
            if isinstance(score.get("passed"), bool):
                verdicts.setdefault(i, []).append(score["passed"])
    width = max((len(c.scores or []) for c in finished), default=0)
    return [round(sum(verdicts[i]) / len(verdicts[i]), 4) if verdicts.get(i) else None for i in range(width)]


def column_summary(cells: list[EvalCell]) -> dict[str, Any]:
    """One column's figures over its finished cells: pass rate (all scorers, and each), TTFT, tokens/s
    and reply length (mean, p95), tokens, cost, and how much repeated samples of a row agree (each
    figure as the stream computed it). A sweep's chart uses it per sample too (``eval_columns``)."""
    finished = [c for c in cells if c.status == EvalCell.Status.DONE]
    scored = [c for c in finished if c.passed is not None]
    tokens = _numbers(finished, "tokens")
    prompt_tokens = [float((c.usage or {}).get("prompt_tokens") or 0) for c in finished]
    judged = [s for c in finished for s in c.scores or [] if s.get("kind") == "judge"]
    by_row: dict[int, list[str]] = {}
    for cell in finished:
        by_row.setdefault(cell.row, []).append(" ".join(cell.answer.split()))
    repeated = [answers for answers in by_row.values() if len(answers) > 1]
    agreement = [Counter(a).most_common(1)[0][1] / len(a) for a in repeated]
    distinct = [len(set(a)) for a in repeated]
    return {
        "cells": len(cells),
        "finished": len(finished),
        "errors": sum(1 for c in cells if c.status == EvalCell.Status.ERROR),
        "passed": sum(1 for c in scored if c.passed),
        "scored": len(scored),
        "pass_rate": round(sum(1 for c in scored if c.passed) / len(scored), 4) if scored else None,
        "scorer_pass_rates": _scorer_pass_rates(finished),
        "ended": sum(1 for c in cells if c.status not in (EvalCell.Status.PENDING, EvalCell.Status.RUNNING)),
        "ttft_ms": {"mean": _mean(_numbers(finished, "ttft_ms")), "p95": _p95(_numbers(finished, "ttft_ms"))},
        "tokens_per_second": {
            "mean": _mean(_numbers(finished, "tokens_per_second")),
            "p95": _p95(_numbers(finished, "tokens_per_second")),
        },
        "reply_tokens": {"mean": _mean(tokens), "p95": _p95(tokens)},
        "completion_tokens": int(sum(tokens)),
        "prompt_tokens": int(sum(prompt_tokens)),
        # Each run's saved cost (the pricing's one formula), summed: the answers, and the judge's runs.
        "cost": cost_sum(c.figures for c in finished),
        "judge_cost": cost_sum(s.get("figures") for s in judged) if judged else None,
        "agreement": _mean(agreement),
        "distinct_answers": _mean([float(d) for d in distinct]),
    }


def eval_progress(eval_run: EvalRun) -> dict[str, int]:
    """How many cells there are, and how many ended (done, error or stopped)."""
    counts = Counter(eval_run.cells.values_list("status", flat=True))
    ended = counts[EvalCell.Status.DONE] + counts[EvalCell.Status.ERROR]
    return {"total": sum(counts.values()), "done": ended, "failed": counts[EvalCell.Status.ERROR]}


def eval_columns(eval_run: EvalRun, cells: list[EvalCell] | None = None) -> list[dict[str, Any]]:
    """The columns (prompt x configuration), each with its summary (``column_summary``). A swept
    configuration's column also says its ``sweep`` ({param, value}) and has one summary per sample
    (``samples``: the sweep chart's points, each a pass over the rows)."""
    if cells is None:
        cells = list(eval_run.cells.defer("error"))
    by_column: dict[int, list[EvalCell]] = {}
    for cell in cells:
        by_column.setdefault(cell.column, []).append(cell)
    out = []
    for column in eval_run.columns:
        mine = by_column.get(int(str(column["index"])), [])
        data = {**column, "summary": column_summary(mine)}
        sweep = eval_run.configs[int(str(column["config"]))].get("sweep")
        if sweep:
            data["sweep"] = sweep
            data["samples"] = [
                column_summary([c for c in mine if c.sample == s]) for s in range(eval_run.samples)
            ]
        out.append(data)
    return out


def eval_data(eval_run: EvalRun, *, user: Any = None) -> dict[str, Any]:
    """Everything the eval page draws: the setup, the rows, every cell and each column's summary."""
    cells = list(eval_run.cells.all())
    link = getattr(eval_run, "via_share_link", None)
    rights = {"run": False, "share": False}
    if user is not None and link is None and getattr(user, "is_authenticated", False):
        for action in rights:
            try:
                conversation_get_for_user(user=user, conversation_id=eval_run.conversation_id, action=action)
                rights[action] = True
            except (Conversation.DoesNotExist, PermissionDenied):
                pass
    return {
        "id": eval_run.pk,
        "name": eval_run.name,
        "status": eval_run.status,
        "conversation": eval_run.conversation_id,
        "samples": eval_run.samples,
        "concurrency": eval_run.concurrency,
        "variables": eval_run.variables,
        "rows": eval_run.rows,
        "prompts": eval_run.prompts,
        "configs": eval_run.configs,
        "scorers": eval_run.scorers,
        "columns": eval_columns(eval_run, cells),
        "cells": [cell_data(c) for c in cells],
        "progress": eval_progress(eval_run),
        "started_at": eval_run.started_at.isoformat() if eval_run.started_at else None,
        "finished_at": eval_run.finished_at.isoformat() if eval_run.finished_at else None,
        "rights": rights,
        "shared": link is not None,
    }


def eval_export_json(eval_run: EvalRun) -> dict[str, Any]:
    """The whole eval: setup, and per cell the exact request sent, the answer, scores and figures."""
    data = eval_data(eval_run)
    cells = eval_run.cells.select_related("run")
    requests = {c.pk: (c.run.request if c.run else None) for c in cells}
    for cell in data["cells"]:
        cell["request"] = requests.get(cell["id"])
    data.pop("rights", None)
    data.pop("shared", None)
    return {"format": EXPORT_FORMAT, "version": 1, "eval": data}


def _blank(value: Any) -> Any:
    return "" if value is None else value


def eval_export_csv(eval_run: EvalRun) -> str:
    """One line per cell: row, column, sample, the variables, expected, answer, status, pass, each score,
    each figure, and the exact request (JSON)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    variables = list(eval_run.variables)
    kinds = [s["kind"] for s in eval_run.scorers]
    figure_names = ["ttft_ms", "total_ms", "tokens", "tokens_per_second", "decode_ms", "chunks"]
    writer.writerow(
        ["row", "column", "sample", *variables, "expected", "answer", "status", "passed"]
        + [f"score:{k}" for k in kinds]
        + [f"detail:{k}" for k in kinds]
        + figure_names
        + ["cost_usd", "prompt_tokens", "completion_tokens", "run", "request"]
    )
    labels = {c["index"]: c["label"] for c in eval_run.columns}
    for cell in eval_run.cells.select_related("run"):
        row = eval_run.rows[cell.row] if cell.row < len(eval_run.rows) else {"values": {}, "expected": None}
        scores = cell.scores or []
        usage = cell.usage or {}
        writer.writerow(
            [cell.row + 1, labels.get(cell.column, cell.column), cell.sample + 1]
            + [row["values"].get(v, "") for v in variables]
            + [
                row.get("expected") or "",
                cell.answer,
                cell.status,
                "" if cell.passed is None else cell.passed,
            ]
            + [s.get("score") if s.get("score") is not None else "" for s in scores]
            + [s.get("detail", "") for s in scores]
            + [(cell.figures or {}).get(name, "") for name in figure_names]
            + [_blank(timings_cost(cell.figures))]
            + [usage.get("prompt_tokens", ""), usage.get("completion_tokens", ""), cell.run_id or ""]
            + [json.dumps(cell.run.request) if cell.run else ""]
        )
    return out.getvalue()
