"""Saved prompts: a named prompt with immutable, numbered versions, and labels pointing at versions.

A saved prompt is personal (its author's) or in its workspace's library (``Scope``, as presets are);
who may see, save a version of, label or delete it is decided by ``playground/permissions.py`` through
``playground/prompts/selectors.py``. A version is never changed once saved: saving again makes the next
number. A label ("production", "staging"…) names one version per prompt and may be moved.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from playground.models import Mode, Scope, Workspace


class ImmutableVersion(Exception):
    """A saved version was about to be changed: versions are immutable (save a new one)."""


class SavedPrompt(models.Model):
    """A named prompt; its content lives in its versions."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_prompts"
    )
    # Where it was made; a workspace-scope prompt is in that workspace's library.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="saved_prompts")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.PERSONAL)
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    # The last new version or label change.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["workspace", "name"], name="prompt_workspace_name")]

    def __str__(self) -> str:
        return self.name


class PromptVersion(models.Model):
    """One immutable version: what the playground sends (mode, model, system, messages or prompt,
    parameters, extra body fields) with its variables' definitions and a note."""

    prompt = models.ForeignKey(SavedPrompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()  # 1, 2, 3… per prompt
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="prompt_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CHAT)
    model = models.CharField(max_length=300, blank=True)
    system = models.TextField(blank=True)
    # chat and responses: [{role, content}] as chat.start takes them (content a string or text/image parts).
    messages = models.JSONField(default=list, blank=True)
    # completions: the raw prompt.
    prompt_text = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)  # registry values, validated by playground.params
    extra = models.JSONField(default=dict, blank=True)  # body fields passed through (tools, …)
    # [{name, type: text|long_text|number|choice, default, choices?}] in the order the names appear.
    variables = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["prompt", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "number"], name="prompt_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableVersion("A saved prompt version cannot be changed; save a new version instead.")
        super().save(*args, **kwargs)


class PromptLabel(models.Model):
    """A name for one version of a prompt ("production"); one version per label per prompt, movable."""

    prompt = models.ForeignKey(SavedPrompt, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40)
    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="labels")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["prompt", "name"], name="prompt_label_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} → v{self.version.number}"
