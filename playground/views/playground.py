"""Page views: the playground itself and sign-up (the other account pages are Django's own)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from playground import throttle
from playground.current import current_membership
from playground.forms.accounts import SignupForm
from playground.models import Conversation
from playground.params import registry_json, server_json, server_kind
from playground.permissions import can
from playground.selectors.conversations import conversation_page_data

# The websocket route the page connects to (proxy/routing.py serves it).
WEBSOCKET_PATH = "/ws/chat/"


@login_required
def playground(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    """Render the playground page (at ``/c/<id>/`` with that saved conversation); config goes as JSON."""
    config: dict[str, Any] = {
        "default_model": settings.PLAYGROUND_DEFAULT_MODEL,
        # Which kind of server answers, from the base URL (playground/params.py server_kind).
        "server": server_json(settings.FIREWORKS_BASE_URL),
        "emulator": server_kind(settings.FIREWORKS_BASE_URL) == "emulator",
        "ws_path": WEBSOCKET_PATH,
        "username": request.user.get_username(),
    }
    membership = current_membership(request)
    current_role = membership.role if membership else None
    # What the page lets the user do (the server checks again on every action): for a new conversation
    # the current workspace's rights ("Read-only: you are a viewer in <workspace>"), for a saved one its
    # own (conversation_rights).
    config["workspace"] = (
        {
            "id": membership.workspace_id,
            "name": membership.workspace.name,
            "personal": membership.workspace.personal_for_id is not None,
        }
        if membership
        else None
    )
    config["role"] = current_role
    writer = can(current_role, "create")
    config["workspace_rights"] = {
        "can_run": writer,
        "can_edit": writer,
        "can_share": False,
        "can_set_visibility": False,
        "can_fork": False,
    }
    config["rights"] = config["workspace_rights"]
    if conversation_id is not None:
        try:
            config["conversation"] = conversation_page_data(
                user=request.user,
                conversation_id=conversation_id,
                current_workspace_id=membership.workspace_id if membership else None,
            )
        except Conversation.DoesNotExist:
            raise Http404("No such conversation.") from None
        config["rights"] = config["conversation"]["rights"]
    return render(request, "playground/playground.html", {"registry": registry_json(), "config": config})


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account (Django's UserCreationForm, rules shown), sign it in and open the playground."""
    if not settings.PLAYGROUND_ALLOW_SIGNUP:
        raise Http404("Sign-up is turned off.")
    if request.user.is_authenticated:
        return redirect("playground")
    if request.method == "POST":
        wait = throttle.signup_wait(request)
        if wait:
            context = {"form": SignupForm(), "throttled": throttle.message(wait)}
            response = render(request, "registration/signup.html", context, status=429)
            response["Retry-After"] = str(wait)
            return response
        throttle.signup_attempted(request)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("playground")
    return render(request, "registration/signup.html", {"form": form})
