"""Share links: the links page of a conversation or a comparison (create, revoke), the read-only shared
page ``/s/<token>/`` (for anyone with the link, signed in or not: a conversation, or a comparison's
columns side by side), forking from a conversation's, and the visibility in the workspace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from playground import current
from playground.forms.workspaces import ShareLinkForm, VisibilityForm
from playground.models import Comparison, Conversation, ShareLink
from playground.permissions import can
from playground.selectors.comparisons import comparison_facts, comparison_get_for_user
from playground.selectors.conversations import conversation_facts, conversation_get_for_user
from playground.selectors.sharing import (
    ShareLinkGone,
    comparison_shared_page_data,
    share_link_active,
    share_link_list,
    share_link_state,
    shared_page_data,
)
from playground.services import sharing


def _gone(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "playground/gone.html", {"what": "link", "reason": reason}, status=410)


def _links(request: HttpRequest, links: Any) -> list[dict[str, Any]]:
    return [
        {
            "link": link,
            "state": share_link_state(link),
            "url": request.build_absolute_uri(f"/s/{link.token}/"),
        }
        for link in links
    ]


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
    facts = conversation_facts(conversation, user=request.user)
    context = {
        "kind": "conversation",
        "target": conversation,
        "open_url": reverse("conversation", args=[conversation.pk]),
        "create_url": reverse("share_link_create", args=[conversation.pk]),
        "visibility_url": reverse("conversation_visibility", args=[conversation.pk]),
        "links": _links(request, share_link_list(conversation=conversation)),
        "form": ShareLinkForm(),
        "can_set_visibility": can(conversation.member_role, "set_visibility", facts),
    }
    return render(request, "playground/share.html", context)


@require_GET
@login_required
def comparison_share_links(request: HttpRequest, comparison_id: int) -> HttpResponse:
    """The comparison's share links and visibility (editors and owners of its workspace)."""
    try:
        comparison = comparison_get_for_user(user=request.user, comparison_id=comparison_id, action="share")
    except Comparison.DoesNotExist:
        raise Http404("No such comparison.") from None
    facts = comparison_facts(comparison, user=request.user)
    context = {
        "kind": "comparison",
        "target": comparison,
        "open_url": reverse("comparison", args=[comparison.pk]),
        "create_url": reverse("comparison_share_link_create", args=[comparison.pk]),
        "visibility_url": reverse("comparison_visibility", args=[comparison.pk]),
        "links": _links(request, share_link_list(comparison=comparison)),
        "form": ShareLinkForm(),
        "can_set_visibility": can(comparison.member_role, "set_visibility", facts),
    }
    return render(request, "playground/share.html", context)


@require_POST
@login_required
def comparison_share_link_create(request: HttpRequest, comparison_id: int) -> HttpResponse:
    """Create a share link to the comparison and go back to its links page, where it is on top."""
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick an expiry.")
        return redirect("comparison_share_links", comparison_id=comparison_id)
    days = form.cleaned_data["expires_in_days"]
    try:
        sharing.comparison_share_link_create(
            user=request.user,
            comparison_id=comparison_id,
            expires_in=timedelta(days=days) if days else None,
            hide_system_prompt=form.cleaned_data["hide_system_prompt"],
            hide_parameters=form.cleaned_data["hide_parameters"],
        )
    except Comparison.DoesNotExist:
        raise Http404("No such comparison.") from None
    messages.success(request, "Share link created. Anyone with it can read this comparison and watch it run.")
    return redirect("comparison_share_links", comparison_id=comparison_id)


@require_POST
@login_required
def comparison_visibility(request: HttpRequest, comparison_id: int) -> HttpResponse:
    """Make the comparison private or shared with the workspace (its owner)."""
    form = VisibilityForm(request.POST)
    if not form.is_valid():
        raise Http404("No such visibility.")
    try:
        sharing.comparison_set_visibility(
            user=request.user, comparison_id=comparison_id, visibility=form.cleaned_data["visibility"]
        )
    except Comparison.DoesNotExist:
        raise Http404("No such comparison.") from None
    messages.success(request, "Visibility saved.")
    return redirect("comparison_share_links", comparison_id=comparison_id)


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
    if link.comparison_id is not None:
        messages.success(request, "Link revoked: it no longer opens the comparison.")
        return redirect("comparison_share_links", comparison_id=link.comparison_id)
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
    if link.comparison_id is not None:
        data = comparison_shared_page_data(link=link)
        context = {"link": link, "token": token, **data}
        return render(request, "playground/shared_comparison.html", context)
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
