"""The arena's tables (README.md beside this file): an arena, its configurations, its prompts, each
prompt's anonymised answers (one per configuration, each an ordinary run) and the audience's votes."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Arena(models.Model):
    """A blind arena a presenter runs on stage; the audience follows it through ``share_token``."""

    workspace = models.ForeignKey("playground.Workspace", on_delete=models.CASCADE, related_name="arenas")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="arenas")
    title = models.CharField(max_length=200)
    system_prompt = models.TextField(blank=True)
    # The audience's link (/a/<token>/): live while the arena runs, read-only results afterwards.
    share_token = models.CharField(max_length=64, unique=True)
    share_revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("workspace", "created_at"))]

    def __str__(self) -> str:
        return self.title


class ArenaConfig(models.Model):
    """One configuration on stage: a model (or a deployment's model id), its parameters, optionally a
    preset they came from."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="configs")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=120)
    model = models.CharField(max_length=300)
    params = models.JSONField(default=dict, blank=True)  # registry values, validated by playground.params
    extra = models.JSONField(default=dict, blank=True)
    system_prompt = models.TextField(blank=True)
    preset = models.ForeignKey("playground.Preset", null=True, blank=True, on_delete=models.SET_NULL)
    # The conversation its answers are saved in (made by its first run; each prompt is a branch).
    conversation = models.ForeignKey(
        "playground.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("position",)
        constraints = [models.UniqueConstraint(fields=("arena", "position"), name="arena_config_position")]

    def __str__(self) -> str:
        return self.label


class PromptStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    STREAMING = "streaming", "Streaming"
    VOTING = "voting", "Voting"
    CLOSED = "closed", "Voting closed"
    REVEALED = "revealed", "Revealed"
    # Its server process died mid-round: finished answers kept, the rest stopped; it may be sent again.
    INTERRUPTED = "interrupted", "Interrupted"


class ArenaPrompt(models.Model):
    """A prompt of the queue and its round: sent to every configuration at once, voted on, revealed."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="prompts")
    position = models.PositiveIntegerField()
    text = models.TextField()
    status = models.CharField(max_length=16, choices=PromptStatus.choices, default=PromptStatus.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    revealed_at = models.DateTimeField(null=True, blank=True)
    # While streaming: the process running the round and when it last said so (playground/liveness.py).
    runner = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("position",)
        constraints = [models.UniqueConstraint(fields=("arena", "position"), name="arena_prompt_position")]

    def __str__(self) -> str:
        return self.text[:60]


class ArenaAnswer(models.Model):
    """One configuration's answer to one prompt, shown as ``slot`` ("A", "B", …): the shuffle, decided
    on the server when the prompt is sent, is the slot each configuration got."""

    prompt = models.ForeignKey(ArenaPrompt, on_delete=models.CASCADE, related_name="answers")
    config = models.ForeignKey(ArenaConfig, on_delete=models.CASCADE, related_name="answers")
    slot = models.CharField(max_length=1)
    run = models.ForeignKey(
        "playground.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, default="streaming")  # streaming, done, stopped, error
    # The names of itself the answer gave (its model's name or family): the prompt's votes are void.
    self_named = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("slot",)
        constraints = [
            models.UniqueConstraint(fields=("prompt", "slot"), name="arena_answer_slot"),
            models.UniqueConstraint(fields=("prompt", "config"), name="arena_answer_config"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id}:{self.slot}"


class ArenaVote(models.Model):
    """One audience member's vote on one prompt: a slot, "tie" or "bad" (both/all bad). ``voter`` is
    the hash of the viewer's signed cookie; a second vote on the same prompt replaces the first."""

    prompt = models.ForeignKey(ArenaPrompt, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=64)
    choice = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("prompt", "voter"), name="arena_vote_once")]

    def __str__(self) -> str:
        return f"{self.prompt_id}:{self.choice}"
