"""Share links: the links page of a conversation (create, revoke), the read-only shared page
``/s/<token>/`` (for anyone with the link, signed in or not), forking from it, and a conversation's
visibility in its workspace."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from playground import current
from playground.forms.workspaces import ShareLinkForm, VisibilityForm
from playground.models import Conversation, ShareLink
from playground.permissions import can
from playground.selectors.conversations import conversation_facts, conversation_get_for_user
from playground.selectors.sharing import (
    ShareLinkGone,
    share_link_active,
    share_link_list,
    share_link_state,
    shared_page_data,
)
from playground.services import sharing


def _gone(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "playground/gone.html", {"what": "link", "reason": reason}, status=410)


@require_GET
@login_required
def share_links(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The conversation's share links and visibility (editors and owners of its workspace)."""
    try:
        conversation = conversation_get_for_user(
            user=request.user, conversation_id=conversation_id, action="share"
        )
    except Conversation.DoesNotExist:
        raise Http404("No such conversation.") from None
    links = [
        {
            "link": link,
            "state": share_link_state(link),
            "url": request.build_absolute_uri(f"/s/{link.token}/"),
        }
        for link in share_link_list(conversation=conversation)
    ]
    facts = conversation_facts(conversation, user=request.user)
    context = {
        "conversation": conversation,
        "links": links,
        "form": ShareLinkForm(),
        "can_set_visibility": can(conversation.member_role, "set_visibility", facts),
    }
    return render(request, "playground/share.html", context)


@require_POST
@login_required
def share_link_create(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Create a share link and go back to the links page, where it is on top."""
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick an expiry.")
        return redirect("share_links", conversation_id=conversation_id)
    days = form.cleaned_data["expires_in_days"]
    try:
        sharing.share_link_create(
            user=request.user,
            conversation_id=conversation_id,
            expires_in=timedelta(days=days) if days else None,
            hide_system_prompt=form.cleaned_data["hide_system_prompt"],
            hide_parameters=form.cleaned_data["hide_parameters"],
        )
    except Conversation.DoesNotExist:
        raise Http404("No such conversation.") from None
    messages.success(request, "Share link created. Anyone with it can read this conversation.")
    return redirect("share_links", conversation_id=conversation_id)


@require_POST
@login_required
def share_link_revoke(request: HttpRequest, share_link_id: int) -> HttpResponse:
    """Revoke a link at once."""
    try:
        link = sharing.share_link_revoke(user=request.user, share_link_id=share_link_id)
    except ShareLink.DoesNotExist:
        raise Http404("No such link.") from None
    messages.success(request, "Link revoked: it no longer opens the conversation.")
    return redirect("share_links", conversation_id=link.conversation_id)


@require_POST
@login_required
def conversation_visibility(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Make the conversation private or shared with the workspace (its owner)."""
    form = VisibilityForm(request.POST)
    if not form.is_valid():
        raise Http404("No such visibility.")
    try:
        sharing.conversation_set_visibility(
            user=request.user, conversation_id=conversation_id, visibility=form.cleaned_data["visibility"]
        )
    except Conversation.DoesNotExist:
        raise Http404("No such conversation.") from None
    if request.headers.get("Accept") == "application/json":  # the playground page's toggle (access.js)
        return JsonResponse({"visibility": form.cleaned_data["visibility"]})
    messages.success(request, "Visibility saved.")
    return redirect("share_links", conversation_id=conversation_id)


@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    """The read-only shared page: messages, each run's metrics and options (unless hidden)."""
    try:
        link = share_link_active(token=token)
    except ShareLink.DoesNotExist:
        raise Http404("No such link.") from None
    except ShareLinkGone as exc:
        return _gone(request, exc.reason)
    context = {"link": link, "token": token, **shared_page_data(link=link)}
    return render(request, "playground/shared.html", context)


@require_POST
@login_required
def shared_fork(request: HttpRequest, token: str) -> HttpResponse:
    """Copy the shared branch into the user's current workspace and open it."""
    try:
        fork = sharing.conversation_fork_shared(
            user=request.user, token=token, workspace_id=current.current_workspace_id(request)
        )
    except ShareLink.DoesNotExist:
        raise Http404("No such link.") from None
    except ShareLinkGone as exc:
        return _gone(request, exc.reason)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("shared", token=token)
    messages.success(request, f"Forked into your workspace as “{fork.title}”.")
    return redirect("conversation", conversation_id=fork.pk)
