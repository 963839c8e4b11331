"""Writes of test sets and eval runs: keyword-only ``<entity>_<action>`` functions, each one transaction.

The runner (``runner.py``) calls ``eval_claim`` once, ``cell_open`` before each cell's request and
``cell_finish`` after it; its stream never waits on the database otherwise.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from playground import liveness
from playground.evals import scorers as scoring
from playground.evals import testsets
from playground.evals.models import EvalCell, EvalRun, TestSet
from playground.evals.selectors import eval_get_for_user, test_set_get_for_user
from playground.liveness import is_gone
from playground.models import Conversation, Run, Scope, ShareLink, Visibility
from playground.params import PARAMS_BY_NAME, ParamError, validate_value
from playground.prompts.models import PromptVersion
from playground.prompts.selectors import version_get_for_user, version_snapshot
from playground.prompts.template import MissingVariables, cell_start, start_variables
from playground.selectors.presets import preset_get_for_user
from playground.selectors.workspaces import workspace_get_for_user
from playground.services.runs import run_open
from playground.services.sharing import share_link_create
from proxy.frames import parse_start
from proxy.protocol import FrameError

MAX_NAME = 120
MAX_COLUMNS = 8  # prompts x configurations
MAX_SAMPLES = 10
MAX_CONCURRENCY = 32
MAX_CELLS = 20_000
MAX_SCORERS = 10
# Which process runs an eval and whether it still does: playground/liveness.py, shared with the arena.
HEARTBEAT_SECONDS = liveness.HEARTBEAT_SECONDS
STALE_SECONDS = liveness.STALE_SECONDS
RUNNER_ID = liveness.RUNNER_ID


class EvalError(ValidationError):
    """A setup the eval cannot run with; the message names what is wrong (nothing was saved)."""


# --- test sets ------------------------------------------------------------------------------------


def _name(name: Any) -> str:
    name = " ".join(str(name or "").split())[:MAX_NAME]
    if not name:
        raise EvalError("Give it a name.")
    return name


def _scope(scope: Any) -> str:
    if scope not in Scope.values:
        raise EvalError(f"scope must be one of {', '.join(Scope.values)}.")
    return str(scope)


@transaction.atomic
def test_set_create(
    *, user: Any, workspace_id: int, name: str, variables: Any, rows: Any, scope: str = Scope.PERSONAL
) -> TestSet:
    """A new test set in the workspace (the user must be able to create there). Raises TableError
    naming each bad row, or EvalError."""
    workspace, _ = workspace_get_for_user(user=user, workspace_id=workspace_id, action="create")
    names = testsets.check_variables(variables)
    return TestSet.objects.create(
        owner=user,
        workspace=workspace,
        scope=_scope(scope),
        name=_name(name),
        variables=names,
        rows=testsets.check_rows(names, rows),
    )


@transaction.atomic
def test_set_update(
    *,
    user: Any,
    test_set_id: int,
    name: str | None = None,
    variables: Any = None,
    rows: Any = None,
    scope: str | None = None,
) -> TestSet:
    """Change a test set's name, table or scope (its owner, or an editor of a shared one)."""
    test_set = test_set_get_for_user(user=user, test_set_id=test_set_id, action="edit", for_update=True)
    if name is not None:
        test_set.name = _name(name)
    if scope is not None and scope != test_set.scope:
        test_set_get_for_user(user=user, test_set_id=test_set_id, action="set_visibility")
        test_set.scope = _scope(scope)
    if variables is not None or rows is not None:
        names = testsets.check_variables(test_set.variables if variables is None else variables)
        test_set.variables = names
        test_set.rows = testsets.check_rows(names, test_set.rows if rows is None else rows)
    test_set.save()
    return test_set


@transaction.atomic
def test_set_delete(*, user: Any, test_set_id: int) -> None:
    """Delete a test set (eval runs keep their copy of its rows)."""
    test_set_get_for_user(user=user, test_set_id=test_set_id, action="delete").delete()


def test_set_import(
    *, user: Any, workspace_id: int, name: str, data: str, filename: str = "", scope: str = Scope.PERSONAL
) -> TestSet:
    """A new test set from CSV or JSONL text: every line checked first, nothing saved on any error."""
    variables, rows = testsets.parse(data, filename=filename)
    return test_set_create(
        user=user, workspace_id=workspace_id, name=name, variables=variables, rows=rows, scope=scope
    )


# --- eval setup -----------------------------------------------------------------------------------


def _prompt_clean(index: int, prompt: Any, *, user: Any) -> dict[str, Any]:
    """A prompt column: a saved prompt's version (``{"version": id}``, its snapshot kept, so the eval
    says exactly what ran), or a chat.start-shaped dict typed in (system, messages or prompt, mode)."""
    where = f"Prompt {index + 1}"
    if isinstance(prompt, dict) and prompt.get("version") not in (None, ""):
        try:
            version = version_get_for_user(user=user, version_id=int(prompt["version"]))
        except (ValueError, TypeError, PromptVersion.DoesNotExist):
            raise EvalError(f"{where}: no such prompt version.") from None
        snapshot = version_snapshot(version)
        label = f"{snapshot['prompt_name']} v{snapshot['version']}"
        return {"label": label[:80], "start": snapshot["start"], "version": snapshot}
    if not isinstance(prompt, dict) or not isinstance(prompt.get("start"), dict):
        raise EvalError(f"{where}: needs a system prompt and a message.")
    start = prompt["start"]
    mode = start.get("mode") or "chat"
    messages = start.get("messages")
    if mode == "completions":
        if not isinstance(start.get("prompt"), str) or not start["prompt"].strip():
            raise EvalError(f"{where}: the prompt is empty.")
    elif not isinstance(messages, list) or not messages:
        raise EvalError(f"{where}: the message is empty.")
    kept = {k: start[k] for k in ("mode", "system", "messages", "prompt") if start.get(k) is not None}
    return {"label": str(prompt.get("label") or f"prompt {index + 1}")[:80], "start": {**kept, "mode": mode}}


def _config_clean(index: int, config: Any, *, user: Any, prompts_have_models: bool = False) -> dict[str, Any]:
    """A configuration: model, parameters (a preset's, then its own on top), serving tier, deployment."""
    where = f"Configuration {index + 1}"
    if not isinstance(config, dict):
        raise EvalError(f"{where}: must be an object.")
    model, params, extra, system = "", {}, {}, ""
    preset_id = config.get("preset")
    if preset_id not in (None, ""):
        try:
            preset = preset_get_for_user(user=user, preset_id=int(preset_id))
        except (ValueError, TypeError, PermissionDenied, Exception) as exc:
            raise EvalError(f"{where}: no such preset.") from exc
        model, params, extra, system = (
            preset.model,
            dict(preset.params),
            dict(preset.extra),
            preset.system_prompt,
        )
    for name, value in (("params", config.get("params")), ("extra", config.get("extra"))):
        if value is not None and not isinstance(value, dict):
            raise EvalError(f"{where}: {name} must be an object.")
    params.update(config.get("params") or {})
    extra.update(config.get("extra") or {})
    model = str(config.get("model") or model or "").strip()
    tier = config.get("service_tier")
    if tier:
        params["service_tier"] = str(tier)
    deployment = str(config.get("deployment") or "").strip()
    if deployment:
        # Fireworks addresses a deployment as the model, or as "<model>#<deployment>".
        model = f"{model}#{deployment}" if model and "/deployments/" in deployment else deployment
    if not model and not prompts_have_models:
        raise EvalError(f"{where}: choose a model.")
    # Without a model, each prompt version's own model runs (with its parameters under these).
    label = str(config.get("label") or "").strip()[:80] or model.rsplit("/", 1)[-1] or "the version's model"
    out: dict[str, Any] = {"label": label, "model": model, "params": params, "extra": extra}
    if preset_id not in (None, ""):
        out["preset"] = int(preset_id)
    if system:
        out["system"] = system  # the preset's system prompt, used when the prompt has none
    if tier:
        out["service_tier"] = str(tier)
    if deployment:
        out["deployment"] = deployment
    return out


def _sweep_value_text(value: float | int) -> str:
    """A swept value as its column is named: 0.5, 1 (not 1.0), 200."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def sweep_expand(configs: list[dict[str, Any]], sweep: Any) -> list[dict[str, Any]]:
    """ "Sweep a parameter": the cleaned configuration ``sweep["config"]`` (default the first) becomes one
    configuration per value of the numeric registry parameter ``sweep["param"]``, in the order given,
    each named by its value and recording ``{"param", "value"}`` as its ``sweep`` (the page's axis).
    Each value is checked by the registry's own rule (``playground.params.validate_value``)."""
    if not isinstance(sweep, dict):
        raise EvalError("sweep must be an object: {param, values}.")
    name = sweep.get("param")
    param = PARAMS_BY_NAME.get(name) if isinstance(name, str) else None
    if param is None or param.kind not in ("float", "int") or "chat" not in param.modes:
        raise EvalError("Sweep: choose a numeric parameter (e.g. temperature).")
    values = sweep.get("values")
    if not isinstance(values, list) or not values:
        raise EvalError("Sweep: give the values to sweep, e.g. 0, 0.5, 1.")
    at = sweep.get("config", 0)
    if not isinstance(at, int) or isinstance(at, bool) or not 0 <= at < len(configs):
        raise EvalError("Sweep: no such configuration.")
    cleaned: list[float | int] = []
    for raw in values:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise EvalError(f"Sweep: {param.name} must be a number {param.range_text()}.")
        try:
            value = validate_value(param.name, raw)
        except ParamError as exc:
            raise EvalError(f"Sweep: {exc.message}") from None
        if value in cleaned:
            raise EvalError(f"Sweep: {param.name}={_sweep_value_text(value)} is given twice.")
        cleaned.append(value)
    base = configs[at]
    expanded = [
        {
            **base,
            "label": f"{param.name}={_sweep_value_text(value)}",
            "params": {**base["params"], param.name: value},
            "sweep": {"param": param.name, "value": value},
        }
        for value in cleaned
    ]
    return [*configs[:at], *expanded, *configs[at + 1 :]]


def question_of(start: dict[str, Any]) -> str:
    """The question a judge is shown: the last user message's text (or the completions prompt)."""
    if isinstance(start.get("prompt"), str):
        return start["prompt"]
    for message in reversed(start.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return ""


@transaction.atomic
def eval_create(
    *,
    user: Any,
    workspace_id: int,
    name: str,
    test_set_id: int | None = None,
    variables: list[str] | None = None,
    rows: list[dict[str, Any]] | None = None,
    prompts: Any,
    configs: Any,
    scorers: Any = (),
    samples: int = 1,
    concurrency: int = 4,
    sweep: Any = None,
) -> EvalRun:
    """A queued eval over a test set (or the rows given): every setup error is said now, the cells are
    made (row x column x sample), and a private conversation is opened to hold the cells' runs. With a
    ``sweep`` ({param, values, config}), one configuration is saved per value (``sweep_expand``)."""
    workspace, _ = workspace_get_for_user(user=user, workspace_id=workspace_id, action="create")
    test_set = None
    if test_set_id is not None:
        test_set = test_set_get_for_user(user=user, test_set_id=test_set_id)
        variables, rows = test_set.variables, test_set.rows
    variables = testsets.check_variables(variables or [])
    rows = testsets.check_rows(variables, rows or [])
    if not rows:
        raise EvalError("The test set has no rows.")
    if not isinstance(prompts, list) or not prompts:
        raise EvalError("Add a prompt.")
    if not isinstance(configs, list) or not configs:
        raise EvalError("Add a configuration.")
    prompt_list = [_prompt_clean(i, p, user=user) for i, p in enumerate(prompts)]
    have_models = all(p["start"].get("model") for p in prompt_list)
    config_list = [
        _config_clean(i, c, user=user, prompts_have_models=have_models) for i, c in enumerate(configs)
    ]
    if sweep is not None:
        config_list = sweep_expand(config_list, sweep)
    if len(prompt_list) * len(config_list) > MAX_COLUMNS:
        raise EvalError(f"At most {MAX_COLUMNS} columns (prompts x configurations).")
    if not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        raise EvalError(f"Samples per row must be 1 to {MAX_SAMPLES}.")
    if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise EvalError(f"Concurrency must be 1 to {MAX_CONCURRENCY}.")
    if not isinstance(scorers, list | tuple) or len(scorers) > MAX_SCORERS:
        raise EvalError(f"At most {MAX_SCORERS} scorers.")
    try:
        scorer_list = [scoring.check_config(s) for s in scorers]
    except scoring.ScorerError as exc:
        raise EvalError(str(exc)) from None
    for scorer in scorer_list:
        if scorer["kind"] == "judge" and not scorer.get("model"):
            scorer["model"] = config_list[0]["model"] or prompt_list[0]["start"].get("model")
    # Every prompt names only the test set's variables, and every column's first request builds.
    for p, prompt in enumerate(prompt_list):
        missing = [n for n in start_variables(prompt["start"]) if n not in variables]
        if missing:
            raise EvalError(
                f"Prompt {p + 1} uses {{{{{missing[0]}}}}}, which the test set has no column for."
            )
        for c, config in enumerate(config_list):
            try:
                parse_start(
                    cell_start(prompt=prompt, config=config, values=rows[0]["values"], stream="check")
                )
            except FrameError as exc:
                raise EvalError(f"Configuration {c + 1}: {exc.message}") from None
            except MissingVariables as exc:
                raise EvalError(str(exc)) from None
    cells = len(rows) * len(prompt_list) * len(config_list) * samples
    if cells > MAX_CELLS:
        raise EvalError(f"{cells} cells; the limit is {MAX_CELLS} (rows x columns x samples).")
    title = _name(name)
    conversation = Conversation.objects.create(
        owner=user,
        workspace=workspace,
        title=f"Eval: {title}"[:200],
        model=config_list[0]["model"] or prompt_list[0]["start"].get("model") or "",
        visibility=Visibility.PRIVATE,
    )
    eval_run = EvalRun.objects.create(
        owner=user,
        workspace=workspace,
        conversation=conversation,
        test_set=test_set,
        name=title,
        variables=variables,
        rows=rows,
        prompts=prompt_list,
        configs=config_list,
        scorers=scorer_list,
        samples=samples,
        concurrency=concurrency,
    )
    _cells_make(eval_run)
    return eval_run


def _cells_make(eval_run: EvalRun) -> None:
    columns = len(eval_run.prompts) * len(eval_run.configs)
    EvalCell.objects.bulk_create(
        EvalCell(eval_run=eval_run, row=r, column=c, sample=s)
        for r in range(len(eval_run.rows))
        for c in range(columns)
        for s in range(eval_run.samples)
    )


@transaction.atomic
def eval_rerun(*, user: Any, eval_id: int) -> EvalRun:
    """A new queued eval with the same rows, columns and scorers (the old one and its cells are kept)."""
    source = eval_get_for_user(user=user, eval_id=eval_id, action="run")
    workspace_get_for_user(user=user, workspace_id=source.workspace_id, action="create")
    conversation = Conversation.objects.create(
        owner=user,
        workspace_id=source.workspace_id,
        title=f"Eval: {source.name}"[:200],
        model=source.conversation.model,
    )
    eval_run = EvalRun.objects.create(
        owner=user,
        workspace_id=source.workspace_id,
        conversation=conversation,
        test_set=source.test_set,
        name=source.name,
        variables=source.variables,
        rows=source.rows,
        prompts=source.prompts,
        configs=source.configs,
        scorers=source.scorers,
        samples=source.samples,
        concurrency=source.concurrency,
    )
    _cells_make(eval_run)
    return eval_run


@transaction.atomic
def eval_share_link_create(*, user: Any, eval_id: int, expires_in: timedelta | None = None) -> ShareLink:
    """A read-only link to the eval: a share link of its conversation (the same tokens, expiry, revoking)."""
    eval_run = eval_get_for_user(user=user, eval_id=eval_id, action="share")
    return share_link_create(user=user, conversation_id=eval_run.conversation_id, expires_in=expires_in)


# --- running (called by runner.py) -------------------------------------------------------------


@transaction.atomic
def eval_claim(
    *, user: Any, eval_id: int, runner: str = RUNNER_ID
) -> tuple[EvalRun, list[tuple[int, int, int, int]]]:
    """Mark the eval running in this process and return the cells to run: every cell not done (a first
    run, or a re-run of the unfinished and failed ones). Refused while another process runs it."""
    eval_get_for_user(user=user, eval_id=eval_id, action="run")
    eval_run = EvalRun.objects.select_for_update().get(pk=eval_id)
    now = timezone.now()
    if eval_run.status == EvalRun.Status.RUNNING:
        raise EvalError("This eval is running already.")
    eval_run.status = EvalRun.Status.RUNNING
    eval_run.runner = runner
    eval_run.heartbeat_at = now
    eval_run.started_at = eval_run.started_at or now
    eval_run.finished_at = None
    eval_run.save(update_fields=["status", "runner", "heartbeat_at", "started_at", "finished_at"])
    todo = eval_run.cells.exclude(status=EvalCell.Status.DONE)
    todo.exclude(status=EvalCell.Status.PENDING).update(
        status=EvalCell.Status.PENDING, answer="", scores=[], passed=None, error=None, figures={}, usage=None
    )
    cells = todo.order_by("row", "column", "sample").values_list("pk", "row", "column", "sample")
    return eval_run, list(cells)


@transaction.atomic
def cell_open(
    *, cell_id: int, user: Any, mode: str, model: str, request: dict[str, Any], judge: bool = False
) -> Run:
    """Open the cell's run record (on the eval's conversation) and mark the cell running; ``judge``:
    the run of the cell's model judge (kept on the same conversation, named in the judge's score)."""
    cell = EvalCell.objects.select_related("eval_run__conversation").get(pk=cell_id)
    run = run_open(
        conversation=cell.eval_run.conversation,
        path=[],
        user=user,
        mode=mode,
        model=model,
        request=request,
    )
    if judge:
        return run
    cell.run = run
    cell.status = EvalCell.Status.RUNNING
    cell.save(update_fields=["run", "status"])
    return run


def cell_finish(
    *,
    cell_id: int,
    status: str,
    answer: str,
    figures: dict[str, Any],
    usage: dict[str, Any] | None,
    scores: list[dict[str, Any]],
    passed: bool | None,
    error: dict[str, Any] | None,
    attempts: int,
) -> EvalCell:
    """Save a cell's outcome (its run was saved by the stream)."""
    cell = EvalCell.objects.get(pk=cell_id)
    cell.status = status
    cell.answer = answer
    cell.figures = figures
    cell.usage = usage
    cell.scores = scores
    cell.passed = passed
    cell.error = error
    cell.attempts = attempts
    cell.finished_at = timezone.now()
    cell.save()
    return cell


def cell_release(*, cell_id: int) -> None:
    """A cell stopped before its request was sent: it is pending again (a re-run picks it up)."""
    EvalCell.objects.filter(pk=cell_id, run__isnull=True).update(status=EvalCell.Status.PENDING)


def eval_heartbeat(*, eval_id: int, runner: str = RUNNER_ID) -> None:
    """The runner is alive."""
    EvalRun.objects.filter(pk=eval_id, runner=runner, status=EvalRun.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )


@transaction.atomic
def eval_finish(*, eval_id: int, status: str, runner: str = RUNNER_ID) -> None:
    """The runner is done: done when every cell ended, else stopped."""
    EvalRun.objects.filter(pk=eval_id, runner=runner).update(status=status, finished_at=timezone.now())


@transaction.atomic
def eval_interrupt_orphans() -> int:
    """Mark "interrupted" every running eval whose process is gone (its process on this machine no longer
    exists, or it has not said it is alive for STALE_SECONDS); its finished cells are kept, cells that
    were mid-request are stopped. Called when a server starts and when the eval pages are read."""
    running = EvalRun.objects.select_for_update().filter(status=EvalRun.Status.RUNNING)
    orphans = [e.pk for e in running if is_gone(e.runner, e.heartbeat_at)]
    if not orphans:
        return 0
    EvalCell.objects.filter(eval_run_id__in=orphans, status=EvalCell.Status.RUNNING).update(
        status=EvalCell.Status.STOPPED,
        error={"code": "interrupted", "message": "The server stopped mid-request."},
    )
    Run.objects.filter(conversation__eval_run__in=orphans, status=Run.Status.STREAMING).update(
        status=Run.Status.STOPPED, finished_at=timezone.now()
    )
    EvalRun.objects.filter(pk__in=orphans).update(
        status=EvalRun.Status.INTERRUPTED, finished_at=timezone.now()
    )
    return len(orphans)
