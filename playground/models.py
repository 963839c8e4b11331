"""Saved work: workspaces and their members, conversations, their messages, every upstream call (a Run)
with what came back, presets and share links.

Every conversation and preset belongs to a workspace (a team; each user has a personal one) and is
private to its owner or shared with the workspace; who may do what is decided in
``playground/permissions.py`` alone. A conversation's messages form a tree (each one's ``parent`` is
the message it follows): editing an earlier message or regenerating a reply adds a sibling branch, and
the conversation remembers the leaf of the branch on screen (``current_leaf``), so no earlier version
is ever lost.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from playground.content import content_text
from playground.crypto import decrypt


class Workspace(models.Model):
    """A team: members with roles share conversations, presets and, optionally, a Fireworks API key."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    # Set on the user's personal workspace (created with the account), None for a team.
    personal_for = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="personal_workspace",
    )
    # The workspace's own Fireworks API key, Fernet-encrypted (playground/crypto.py); never shown whole.
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_key_last4 = models.CharField(max_length=4, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_key_masked(self) -> str:
        """The key as pages show it: only its last four characters, or "" when none is set."""
        return f"••••{self.api_key_last4}" if self.api_key_encrypted else ""

    def api_key(self) -> str:
        """The decrypted key, for the upstream request only ("" when none is set)."""
        return decrypt(self.api_key_encrypted) if self.api_key_encrypted else ""


class Role(models.TextChoices):
    """A member's role in a workspace (playground/permissions.py says what each may do)."""

    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A user's membership of a workspace, with their role."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.workspace_id} ({self.role})"


class Invitation(models.Model):
    """A link an owner hands out (``/join/<token>/``): anyone signed in who opens it joins with ``role``.

    Multi-use until it expires or is revoked; ``uses`` counts the joins.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    token = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Invitation to {self.workspace_id} as {self.role}"


class Visibility(models.TextChoices):
    """Who in the workspace sees a conversation."""

    PRIVATE = "private", "Private"
    WORKSPACE = "workspace", "Workspace"


class Scope(models.TextChoices):
    """Whose a preset is: its owner's alone, or the workspace's library."""

    PERSONAL = "personal", "Personal"
    WORKSPACE = "workspace", "Workspace"


def personal_workspace_of(user_id: int) -> Workspace:
    """The user's personal workspace, created (with the owner membership) when it is missing."""
    workspace = Workspace.objects.filter(personal_for_id=user_id).first()
    if workspace is None:
        workspace = Workspace.objects.create(
            name="Personal", slug=f"personal-{user_id}", personal_for_id=user_id
        )
        Membership.objects.create(workspace=workspace, user_id=user_id, role=Role.OWNER)
    return workspace


class Mode(models.TextChoices):
    """Which upstream endpoint a conversation or run uses."""

    CHAT = "chat", "Chat"
    COMPLETIONS = "completions", "Completions"
    RESPONSES = "responses", "Responses"


class Conversation(models.Model):
    """One playground session of a user: the model, system prompt, parameters and messages."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    title = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CHAT)
    model = models.CharField(max_length=300)
    system_prompt = models.TextField(blank=True)
    # Registry values (playground/params.py), as validated; unset parameters are absent.
    params = models.JSONField(default=dict, blank=True)
    # Fields the registry does not know, passed through to the upstream unchecked.
    extra = models.JSONField(default=dict, blank=True)
    # The last message of the branch on screen (None: the newest message, or no messages yet).
    current_leaf = models.ForeignKey(
        "Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    forked_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="forks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="conversation_owner_recent"),
            models.Index(fields=["owner", "model", "-updated_at"], name="conversation_owner_model"),
            # The list shows the current workspace's conversations in its order (newest first, then the
            # highest id), by model or not. The index is that order, so a page is read in order (SQLite
            # sorted the id in a temporary B-tree with only updated_at), and it holds the columns of
            # the permission filter, so the count and the pages skipped never read the table.
            models.Index(
                fields=["workspace", "-updated_at", "-id", "owner", "visibility"],
                name="conversation_workspace_list",
            ),
            models.Index(
                fields=["workspace", "model", "-updated_at", "-id", "owner", "visibility"],
                name="conversation_workspace_models",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Made without a workspace (an import, a test, a script): it goes to the owner's personal one.
        if self.workspace_id is None:
            self.workspace = personal_workspace_of(self.owner_id)
        super().save(*args, **kwargs)


class Message(models.Model):
    """One message of a conversation: a node of its tree, ``position`` deep (the first message is 0)."""

    class Role(models.TextChoices):
        SYSTEM = "system", "System"
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        TOOL = "tool", "Tool"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # The message this one follows (None for a first message); siblings are alternative versions.
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=16, choices=Role.choices)
    # A string, or a list of parts ({"type": "text", ...} / {"type": "image_url", ...}) as the API takes it.
    content = models.JSONField(default=str, blank=True)
    reasoning = models.TextField(blank=True)
    tool_calls = models.JSONField(null=True, blank=True)
    # For role "tool": which assistant tool call this message answers.
    tool_call_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "position", "pk"]
        indexes = [models.Index(fields=["conversation", "position"], name="message_conversation_depth")]

    def __str__(self) -> str:
        return f"{self.role} #{self.position} of {self.conversation_id}"

    @property
    def text(self) -> str:
        """The message's text, with the text parts of a multi-part content joined."""
        return content_text(self.content)


class Run(models.Model):
    """One upstream call: the exact request sent, what the server said it did, and what came back."""

    class Status(models.TextChoices):
        STREAMING = "streaming", "Streaming"
        DONE = "done", "Done"
        STOPPED = "stopped", "Stopped"
        ERROR = "error", "Error"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="runs")
    # The assistant message this run produced (set when the run ends).
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="runs"
    )
    # The last message sent: the reply is saved as its child (None in a new, empty branch).
    follows = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    endpoint = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CHAT)
    model = models.CharField(max_length=300)
    # The exact body sent upstream (never the key: that travels only in a header).
    request = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STREAMING)
    request_id = models.CharField(max_length=200, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    sampling_options = models.JSONField(null=True, blank=True)  # fireworks-sampling-options, as applied
    requested_options = models.JSONField(
        default=dict, blank=True
    )  # the sampling values the request asked for
    rate_limits = models.JSONField(default=dict, blank=True)
    usage = models.JSONField(null=True, blank=True)
    perf_metrics = models.JSONField(null=True, blank=True)
    # The stream's figures (proxy.relay.figures): {ttft_ms, total_ms, chunks, tokens, decode_ms,
    # tokens_per_second}, measured by the server from the request being sent.
    timings = models.JSONField(default=dict, blank=True)
    # The frames the stream sent after chat.started, in order, without the stream id (deltas without
    # logprobs), ending with chat.done or chat.error: replayed through the page's fold as live frames.
    timeline = models.JSONField(default=list, blank=True)
    # Per choice: {content, reasoning, tool_calls (assembled), finish_reason, logprobs}.
    output = models.JSONField(default=list, blank=True)
    finish_reasons = models.JSONField(default=dict, blank=True)
    response_model = models.CharField(max_length=300, blank=True)
    error = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["conversation", "-started_at"], name="run_conversation_recent")]

    # Not a column: where the reply goes, set by ``run_start`` (``playground.services.runs.RunPlace``).
    place: Any = None

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.status}) of {self.conversation_id}"

    @property
    def is_finished(self) -> bool:
        """Whether the stream has ended (done, stopped or error)."""
        return self.status != self.Status.STREAMING


class Preset(models.Model):
    """A named set of model, system prompt and parameters to apply in one click."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presets")
    # Where it was made; a workspace-scope preset is in that workspace's library.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="presets")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.PERSONAL)
    name = models.CharField(max_length=120)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CHAT)
    model = models.CharField(max_length=300, blank=True)
    system_prompt = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)  # registry values, validated by playground.params
    extra = models.JSONField(default=dict, blank=True)  # fields passed through unchecked
    is_default = models.BooleanField(default=False)  # the default for this owner's new conversations
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="preset_unique_name_per_owner"),
            models.UniqueConstraint(
                fields=["owner"], condition=models.Q(is_default=True), name="preset_one_default_per_owner"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.workspace_id is None:
            self.workspace = personal_workspace_of(self.owner_id)
        super().save(*args, **kwargs)


class ShareLink(models.Model):
    """A read-only link to a conversation or a comparison (``/s/<token>/``): unguessable, revocable,
    optionally expiring. Exactly one of ``conversation`` and ``comparison`` is set."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, null=True, blank=True, related_name="share_links"
    )
    comparison = models.ForeignKey(
        "Comparison", on_delete=models.CASCADE, null=True, blank=True, related_name="share_links"
    )
    token = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    hide_system_prompt = models.BooleanField(default=False)
    hide_parameters = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(conversation__isnull=False, comparison__isnull=True)
                | models.Q(conversation__isnull=True, comparison__isnull=False),
                name="share_link_one_target",
            ),
        ]

    def __str__(self) -> str:
        if self.comparison_id is not None:
            return f"Share link of comparison {self.comparison_id}"
        return f"Share link of {self.conversation_id}"


class Comparison(models.Model):
    """Several runs of one prompt side by side (``/compare/<id>/``): one column per model or parameter set.

    Each column's run belongs to a conversation of its own, so a column is opened, shared and watched
    like any conversation; the comparison groups them, and is itself private or shared with its
    workspace and shared by link like a conversation (its viewers read and watch every column).
    ``columns`` is a list of ``{label, model, params, preset, run, conversation}`` (``run`` and
    ``conversation`` are ids; a column whose run was deleted shows as missing).
    """

    class Kind(models.TextChoices):
        COMPARE = "compare", "Compare"
        SWEEP = "sweep", "Sweep"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comparisons")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="comparisons")
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.COMPARE)
    title = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    messages = models.JSONField(default=list, blank=True)  # the conversation every column was sent
    columns = models.JSONField(default=list, blank=True)
    sweep = models.JSONField(null=True, blank=True)  # {param, values, samples} for a sweep
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="comparison_owner_recent")]

    def __str__(self) -> str:
        return self.title or f"Comparison {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.workspace_id is None:
            self.workspace = personal_workspace_of(self.owner_id)
        super().save(*args, **kwargs)
