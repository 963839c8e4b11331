"""The eval pages: test sets (editor, import, export), the eval setup, its live grid, exports, sharing.

Views stay thin: reads through ``selectors``, writes through ``services``; the eval itself runs on the
server (``runner.py``), started and followed over ``/ws/eval/``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground.current import current_workspace_id
from playground.evals import scorers as scoring
from playground.evals import selectors, services, testsets
from playground.evals.models import EvalRun, TestSet
from playground.jsonbody import json_object
from playground.params import registry_json
from playground.prompts.selectors import prompt_list_for_user, version_list
from playground.selectors.presets import preset_list_for_user
from playground.selectors.sharing import ShareLinkGone

WS_PATH = "/ws/eval/"


def _error(message: str, status: int = 400, field: str = "") -> JsonResponse:
    return JsonResponse({"error": {"field": field, "message": message}}, status=status)


@login_required
@require_GET
def eval_list(request: HttpRequest) -> HttpResponse:
    """Saved evals and test sets of the current workspace."""
    services.eval_interrupt_orphans()
    workspace_id = current_workspace_id(request)
    evals = list(
        selectors.eval_list_for_user(user=request.user, workspace_id=workspace_id)
        .select_related("owner")
        .defer("rows", "variables", "prompts", "configs", "scorers")
        .annotate(cell_count=Count("cells"))[:200]
    )
    test_sets = list(selectors.test_set_list_for_user(user=request.user, workspace_id=workspace_id)[:200])
    return render(request, "evals/list.html", {"evals": evals, "test_sets": test_sets})


# --- test sets ------------------------------------------------------------------------------------


def _test_set_or_404(request: HttpRequest, test_set_id: int, action: str = "view") -> TestSet:
    try:
        return selectors.test_set_get_for_user(user=request.user, test_set_id=test_set_id, action=action)
    except TestSet.DoesNotExist:
        raise Http404("No such test set.") from None


@login_required
@require_GET
def test_set_page(request: HttpRequest, test_set_id: int | None = None) -> HttpResponse:
    """The test-set editor: a table typed in, or imported from CSV or JSONL."""
    data: dict[str, Any] = {
        "id": None,
        "name": "",
        "scope": "personal",
        "variables": ["question"],
        "rows": [],
    }
    if test_set_id is not None:
        data = selectors.test_set_data(_test_set_or_404(request, test_set_id))
    config = {"test_set": data, "api": reverse("api_test_sets"), "list_url": reverse("eval_list")}
    return render(request, "evals/test_set.html", {"config": config, "test_set": data})


@login_required
@require_POST
def api_test_sets(request: HttpRequest) -> JsonResponse:
    """Create a test set: JSON ``{name, variables, rows, scope}``, or an uploaded CSV/JSONL ``file``."""
    workspace_id = current_workspace_id(request)
    try:
        if request.FILES.get("file"):
            upload = request.FILES["file"]
            if upload.size and upload.size > testsets.MAX_IMPORT_BYTES:
                return _error(f"The file is larger than {testsets.MAX_IMPORT_BYTES // (1024 * 1024)} MiB.")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                return _error("The file is not UTF-8 text.")
            name = request.POST.get("name") or (upload.name or "").rsplit(".", 1)[0] or "Imported"
            test_set = services.test_set_import(
                user=request.user, workspace_id=workspace_id, name=name, data=text, filename=upload.name or ""
            )
        else:
            data = json_object(request)
            if data is None:
                return _error("The body must be a JSON object.")
            test_set = services.test_set_create(
                user=request.user,
                workspace_id=workspace_id,
                name=data.get("name") or "",
                variables=data.get("variables"),
                rows=data.get("rows"),
                scope=data.get("scope") or "personal",
            )
    except testsets.TableError as exc:
        return JsonResponse(
            {"error": {"field": "rows", "message": "Nothing was imported.", "lines": exc.errors}}, status=400
        )
    except services.EvalError as exc:
        return _error(exc.messages[0])
    except PermissionDenied as exc:
        return _error(str(exc), 403)
    body = selectors.test_set_data(test_set)
    body["url"] = reverse("test_set", args=[test_set.pk])
    return JsonResponse({"test_set": body}, status=201)


@login_required
@require_http_methods(["POST", "DELETE"])
def api_test_set(request: HttpRequest, test_set_id: int) -> JsonResponse:
    """POST (JSON): save the name, table or scope. DELETE: delete it."""
    try:
        if request.method == "DELETE":
            services.test_set_delete(user=request.user, test_set_id=test_set_id)
            return JsonResponse({"deleted": test_set_id})
        data = json_object(request)
        if data is None:
            return _error("The body must be a JSON object.")
        test_set = services.test_set_update(
            user=request.user,
            test_set_id=test_set_id,
            name=data.get("name"),
            variables=data.get("variables"),
            rows=data.get("rows"),
            scope=data.get("scope"),
        )
    except TestSet.DoesNotExist:
        return _error("No such test set.", 404)
    except testsets.TableError as exc:
        return JsonResponse(
            {"error": {"field": "rows", "message": "Nothing was saved.", "lines": exc.errors}}, status=400
        )
    except services.EvalError as exc:
        return _error(exc.messages[0])
    except PermissionDenied as exc:
        return _error(str(exc), 403)
    return JsonResponse({"test_set": selectors.test_set_data(test_set)})


@login_required
@require_GET
def test_set_export(request: HttpRequest, test_set_id: int, fmt: str) -> HttpResponse:
    """The table as CSV or JSONL (importing it again gives the same table)."""
    test_set = _test_set_or_404(request, test_set_id)
    if fmt not in ("csv", "jsonl"):
        raise Http404("Export as .csv or .jsonl.")
    if fmt == "csv":
        body, kind = testsets.to_csv(test_set.variables, test_set.rows), "text/csv"
    else:
        body, kind = testsets.to_jsonl(test_set.variables, test_set.rows), "application/x-ndjson"
    response = HttpResponse(body, content_type=f"{kind}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="test-set-{test_set.pk}.{fmt}"'
    return response


# --- evals ----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def eval_new(request: HttpRequest) -> HttpResponse:
    """The setup form (GET) and creating the eval from it (POST, JSON): then its page runs it."""
    workspace_id = current_workspace_id(request)
    if request.method == "POST":
        data = json_object(request)
        if data is None:
            return _error("The body must be a JSON object.")
        try:
            test_set_id = data.get("test_set")
            eval_run = services.eval_create(
                user=request.user,
                workspace_id=workspace_id,
                name=data.get("name") or "",
                test_set_id=int(test_set_id) if test_set_id not in (None, "") else None,
                prompts=data.get("prompts"),
                configs=data.get("configs"),
                scorers=data.get("scorers") or [],
                samples=data.get("samples", 1),
                concurrency=data.get("concurrency", 4),
                sweep=data.get("sweep"),
            )
        except (services.EvalError, ValueError) as exc:
            message = (
                exc.messages[0] if isinstance(exc, services.EvalError) else "The test set must be an id."
            )
            return _error(message)
        except testsets.TableError as exc:
            return _error("; ".join(exc.errors))
        except TestSet.DoesNotExist:
            return _error("No such test set.", field="test_set")
        except PermissionDenied as exc:
            return _error(str(exc), 403)
        return JsonResponse(
            {"eval": {"id": eval_run.pk, "url": reverse("eval_page", args=[eval_run.pk])}}, status=201
        )
    test_sets = [
        {"id": t.pk, "name": t.name, "variables": t.variables, "rows": len(t.rows)}
        for t in selectors.test_set_list_for_user(user=request.user, workspace_id=workspace_id)
    ]
    presets = [
        {"id": p.pk, "name": p.name, "model": p.model} for p in preset_list_for_user(user=request.user)
    ]
    versions = [
        {
            "id": v.pk,
            "label": f"{p.name} v{v.number}",
            "note": v.note,
            "labels": sorted(x.name for x in v.labels.all()),
        }
        for p in prompt_list_for_user(user=request.user, workspace_id=workspace_id)[:50]
        for v in version_list(p)[:20]
    ]
    config = {
        "test_sets": test_sets,
        "presets": presets,
        "versions": versions,
        "scorers": [{"kind": k, "label": scoring.LABELS[k]} for k in scoring.KINDS],
        "judge_prompt": scoring.DEFAULT_JUDGE,
        "selected": request.GET.get("test_set"),
        "max_concurrency": services.MAX_CONCURRENCY,
        "max_samples": services.MAX_SAMPLES,
        "registry": registry_json(),
        "ws_path": WS_PATH,
    }
    return render(request, "evals/new.html", {"config": config})


def _eval_or_404(request: HttpRequest, eval_id: int) -> EvalRun:
    try:
        return selectors.eval_for_viewer(user=request.user, eval_id=eval_id)
    except EvalRun.DoesNotExist:
        raise Http404("No such eval.") from None


def _grid(request: HttpRequest, eval_run: EvalRun, *, share: str | None = None) -> HttpResponse:
    data = selectors.eval_data(eval_run, user=request.user)
    urls = {}
    if share is None:
        urls = {
            "data": reverse("eval_data", args=[eval_run.pk]),
            "csv": reverse("eval_export", args=[eval_run.pk, "csv"]),
            "json": reverse("eval_export", args=[eval_run.pk, "json"]),
            "rerun": reverse("eval_rerun", args=[eval_run.pk]),
            "share": reverse("eval_share", args=[eval_run.pk]),
        }
    config = {"eval": data, "ws_path": WS_PATH, "share": share, "urls": urls, "run_url": "/runs/0/"}
    return render(request, "evals/eval.html", {"config": config, "eval": data})


@login_required
@require_GET
def eval_page(request: HttpRequest, eval_id: int) -> HttpResponse:
    """An eval's grid: rows x columns, live while it runs."""
    services.eval_interrupt_orphans()
    return _grid(request, _eval_or_404(request, eval_id))


@require_GET
def eval_shared(request: HttpRequest, token: str) -> HttpResponse:
    """An eval opened through a share link of its conversation: read-only, live."""
    try:
        eval_run = selectors.eval_for_viewer(user=request.user, share_token=token)
    except (EvalRun.DoesNotExist, ShareLinkGone):
        raise Http404("No such eval.") from None
    return _grid(request, eval_run, share=token)


@login_required
@require_GET
def eval_data(request: HttpRequest, eval_id: int) -> JsonResponse:
    """The grid's data; ``?part=columns``: only the columns' summaries (read again as cells end)."""
    eval_run = _eval_or_404(request, eval_id)
    if request.GET.get("part") == "columns":
        return JsonResponse({"eval": {"id": eval_run.pk, "columns": selectors.eval_columns(eval_run)}})
    return JsonResponse({"eval": selectors.eval_data(eval_run, user=request.user)})


@login_required
@require_GET
def eval_export(request: HttpRequest, eval_id: int, fmt: str) -> HttpResponse:
    """CSV or JSON: every cell's exact request, answer, scores and figures."""
    eval_run = _eval_or_404(request, eval_id)
    if fmt not in ("csv", "json"):
        raise Http404("Export as .csv or .json.")
    if fmt == "csv":
        response = HttpResponse(selectors.eval_export_csv(eval_run), content_type="text/csv; charset=utf-8")
    else:
        response = JsonResponse(selectors.eval_export_json(eval_run), json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="eval-{eval_run.pk}.{fmt}"'
    return response


@login_required
@require_POST
def eval_rerun(request: HttpRequest, eval_id: int) -> HttpResponse:
    """Run the whole eval again, as a new saved eval (this one is kept)."""
    try:
        eval_run = services.eval_rerun(user=request.user, eval_id=eval_id)
    except EvalRun.DoesNotExist:
        raise Http404("No such eval.") from None
    return redirect("eval_page", eval_run.pk)


@login_required
@require_POST
def eval_share(request: HttpRequest, eval_id: int) -> JsonResponse:
    """A new read-only link to the eval (revoked like a conversation's, on its conversation's links)."""
    try:
        link = services.eval_share_link_create(user=request.user, eval_id=eval_id)
    except EvalRun.DoesNotExist:
        return _error("No such eval.", 404)
    except PermissionDenied as exc:
        return _error(str(exc), 403)
    url = request.build_absolute_uri(reverse("eval_shared", args=[link.token]))
    return JsonResponse(
        {"url": url, "manage": reverse("share_links", args=[link.conversation_id])}, status=201
    )
