"""Pages for saved work: the conversation list, rename/delete/duplicate/fork, export/import, run pages.

Each view validates with a form, calls one service or selector, and renders or redirects. Another
user's conversation or run is a 404, never a 403: its existence is not revealed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_POST

from playground.current import current_membership, current_workspace_id
from playground.forms.conversations import ConversationFilterForm, ImportForm, MessageForm, RenameForm
from playground.models import Conversation, Message, Run
from playground.permissions import can
from playground.selectors import conversations as selectors
from playground.selectors import runs
from playground.services import conversations, transfer

PAGE_SIZE = 25


def _owned(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # Someone else's conversation, run or message is simply not found.
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (Conversation.DoesNotExist, Run.DoesNotExist, Message.DoesNotExist):
            raise Http404("Not found.") from None

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return login_required(wrapped)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


def _ago(then: Any, now: Any) -> str:
    # "just now" or "3 hours ago", as the list and the sidebar show it.
    return "just now" if now - then < timedelta(minutes=1) else f"{timesince(then, now)} ago"


class CountUpTo(Paginator):
    """A paginator that counts at most ``AT_LEAST`` rows (or, past page 39, up to the page after the
    one asked for): enough to show the page asked for and whether another follows. ``more`` is True
    when there are more rows than ``count``, and the page says so ("1000+ saved · matching", "Page 1
    of 40+"). Counting every match of a word found in 50,000 conversations read them all."""

    AT_LEAST = 1000

    def __init__(self, object_list: Any, per_page: int, *, number: Any) -> None:
        super().__init__(object_list, per_page)
        try:
            number = max(1, int(number))
        except (TypeError, ValueError):
            number = 1
        self.bound = max(self.AT_LEAST, (number + 1) * per_page)
        self.more = False

    @cached_property
    def ids(self) -> list[int]:
        """The matches' ids in the list's order, up to the bound and one more: one pass of the search
        serves the count and the page (a count, then the page's query, matched every word twice)."""
        return list(self.object_list.values_list("pk", flat=True)[: self.bound + 1])

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        self.more = len(self.ids) > self.bound
        return min(len(self.ids), self.bound)

    def page(self, number: Any) -> Any:
        """The page's ids (``conversation_rows`` reads their rows)."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.ids[bottom : bottom + self.per_page], number, self)


@require_GET
@login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    """The user's conversations, newest first: search, model filter, pages of 25."""
    form = ConversationFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    query, model = filters.get("q") or "", filters.get("model") or ""
    workspace_id = current_workspace_id(request)
    rows = selectors.conversation_search_for_user(
        user=request.user, query=query, model=model, workspace_id=workspace_id
    )
    number = filters.get("page") or 1
    # A search counts its matches only as far as it needs to (see CountUpTo); the list counts them all.
    paginator = CountUpTo(rows, PAGE_SIZE, number=number) if query else Paginator(rows, PAGE_SIZE)
    page = paginator.get_page(number)
    page.object_list = selectors.conversation_rows(page.object_list)
    now = timezone.now()
    # The list shows the current workspace: the user's role there decides what each row offers.
    membership = current_membership(request)
    role = membership.role if membership else None
    for row in page.object_list:
        row.rights = selectors.conversation_rights(row, user=request.user, role=role, current_role=role)
        row.rights["can_delete"] = can(role, "delete", selectors.conversation_facts(row, user=request.user))
        row.ago = _ago(row.updated_at, now)
        # The part of a model id that tells models apart comes last: shown first, the path after it.
        row.model_path, _, row.model_name = row.model.rpartition("/")
    keep = {k: v for k, v in (("q", query), ("model", model)) if v}
    context = {
        "page": page,
        "query": query,
        "model": model,
        "models": selectors.conversation_models_for_user(user=request.user, workspace_id=workspace_id),
        "filters": urlencode(keep),
        "filtered": bool(keep),
        "import_form": ImportForm(),
        "can_create": can(role, "create"),
        "role": role,
    }
    return render(request, "playground/conversations.html", context)


SIDEBAR_SIZE = 30


@require_GET
@login_required
def api_conversations(request: HttpRequest) -> JsonResponse:
    """The playground's sidebar: the current workspace's conversations the user may see, newest first,
    searched as the list page searches (``q``: title or message text), at most 30."""
    form = ConversationFilterForm(request.GET)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return JsonResponse({"error": {"field": field, "message": errors[0]}}, status=400)
    query = form.cleaned_data.get("q") or ""
    rows = selectors.conversation_rows(
        selectors.conversation_search_for_user(
            user=request.user, query=query, workspace_id=current_workspace_id(request)
        )[:SIDEBAR_SIZE]
    )
    now = timezone.now()
    listed = [
        {
            "id": row.pk,
            "title": row.title,
            "model": row.model,
            "updated_at": row.updated_at.isoformat(),
            "ago": _ago(row.updated_at, now),
            "status": row.last_run_status,
        }
        for row in rows
    ]
    return JsonResponse({"conversations": listed, "query": query})


@require_POST
@_owned
def conversation_rename(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Rename, then back to where the form was."""
    form = RenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A title needs 1 to 200 characters.")
        return _back(request, "conversation_list")
    conversations.conversation_rename(
        user=request.user, conversation_id=conversation_id, title=form.cleaned_data["title"]
    )
    return _back(request, "conversation_list")


@_owned
def conversation_delete(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the conversation, its messages and runs."""
    if request.method == "POST":
        conversations.conversation_delete(user=request.user, conversation_id=conversation_id)
        messages.success(request, "Conversation deleted.")
        return redirect("conversation_list")
    conversation = selectors.conversation_get_for_user(user=request.user, conversation_id=conversation_id)
    return render(request, "playground/conversation_delete.html", {"conversation": conversation})


@require_POST
@_owned
def conversation_duplicate(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Copy the conversation (whole tree and runs) and go back to the list, where it is on top."""
    copy = transfer.conversation_duplicate(
        user=request.user, conversation_id=conversation_id, workspace_id=current_workspace_id(request)
    )
    messages.success(request, f"Duplicated as “{copy.title}”.")
    return redirect("conversation_list")


@require_POST
@_owned
def conversation_fork(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """A new conversation from the first message to the one named, opened at once."""
    form = MessageForm(request.POST)
    if not form.is_valid():
        raise Http404("No such message.")
    fork = conversations.conversation_fork(
        user=request.user,
        conversation_id=conversation_id,
        message_id=form.cleaned_data["message"],
        workspace_id=current_workspace_id(request),
    )
    return redirect("conversation", conversation_id=fork.pk)


@require_POST
@_owned
def conversation_leaf(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Remember the branch on screen (the page posts it when the user switches)."""
    form = MessageForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": "message must be a message id"}, status=400)
    conversations.conversation_leaf_set(
        user=request.user, conversation_id=conversation_id, message_id=form.cleaned_data["message"]
    )
    return JsonResponse({"ok": True})


@require_GET
@_owned
def conversation_data(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The page's data for a saved conversation as JSON (the page reloads its tree from it)."""
    data = selectors.conversation_page_data(
        user=request.user, conversation_id=conversation_id, current_workspace_id=current_workspace_id(request)
    )
    return JsonResponse(data)


@require_GET
@_owned
def conversation_export(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The conversation with its runs as a JSON download."""
    document = transfer.conversation_export(user=request.user, conversation_id=conversation_id)
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="conversation-{conversation_id}.json"'
    return response


@require_POST
@login_required
def conversation_import(request: HttpRequest) -> HttpResponse:
    """Import an exported conversation as a new one of the user's and open it."""
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            imported = transfer.conversation_import(
                user=request.user,
                document=form.cleaned_data["file"],
                workspace_id=current_workspace_id(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Imported “{imported.title}”.")
            return redirect("conversation", conversation_id=imported.pk)
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("conversation_list")


def _scrub(text: str) -> str:
    key = settings.FIREWORKS_API_KEY
    return text.replace(key, "[redacted]") if key else text


@require_GET
@_owned
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """Everything about one upstream call: request, headers, usage, perf, timeline, outcome."""
    run = selectors.run_get_for_user(user=request.user, run_id=run_id)
    sampling = run.sampling_options or {}
    requested = run.requested_options or {}
    options = [
        {
            "key": key,
            "applied": json.dumps(sampling.get(key)) if key in sampling else "—",
            "requested": json.dumps(requested[key]) if key in requested else "—",
            "differs": key in sampling and key in requested and sampling[key] != requested[key],
        }
        for key in sorted({*sampling, *requested})
    ]
    chart = {
        "frames": runs.run_frames(timeline=run.timeline, run_id=run.pk, message_id=run.message_id),
        "timings": run.timings,
        # The reply panel renders chat replies as Markdown and checks a JSON reply against its schema.
        "endpoint": run.endpoint,
        "response_format": run.request.get("response_format") if isinstance(run.request, dict) else None,
    }
    context = {
        "run": run,
        "request_json": _scrub(json.dumps(run.request, indent=2, ensure_ascii=False)),
        "headers": sorted(run.response_headers.items()),
        "options": options,
        "output_json": json.dumps(run.output, indent=2, ensure_ascii=False),
        "error_json": json.dumps(run.error, indent=2, ensure_ascii=False) if run.error else "",
        "chart": chart,
        "emulator": runs.headers_say_emulator(run.response_headers),
        "cached_tokens": runs.cached_prompt_tokens(run.usage, run.response_headers),
    }
    return render(request, "playground/run.html", context)
