"""Test sets and eval runs (README.md beside this file).

A test set is a table of variable values with an optional expected answer per row, owned by a
workspace and shared like a preset (personal or workspace scope; playground/permissions.py decides).
An eval run sends every row through every column (a prompt x a configuration), ``samples`` times, on
the server; each cell is one stream through proxy/stream.py, saved as a playground ``Run`` that the
cell links to. The eval's own ``Conversation`` holds those runs: its visibility and share links are
the eval's (the same rules and the same ShareLink as a conversation).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from playground.models import Conversation, Run, Scope, Workspace


class TestSet(models.Model):
    """Rows of variable values (``{"values": {name: text}, "expected": text | None}``), in order."""

    __test__ = False  # not a pytest class

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_sets")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="test_sets")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.PERSONAL)
    name = models.CharField(max_length=120)
    variables = models.JSONField(default=list, blank=True)  # the column names, in order
    rows = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class EvalRun(models.Model):
    """Columns (prompt x configuration) over a test set's rows, run on the server."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        STOPPED = "stopped", "Stopped"
        INTERRUPTED = "interrupted", "Interrupted"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eval_runs")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="eval_runs")
    # Holds the cells' runs; its visibility and share links are the eval's.
    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="eval_run")
    test_set = models.ForeignKey(TestSet, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    name = models.CharField(max_length=200)
    # A copy of the rows run (the test set may change later; a re-run uses the same rows).
    variables = models.JSONField(default=list, blank=True)
    rows = models.JSONField(default=list, blank=True)
    # [{"label", "start": chat.start-shaped dict}] and [{"label", "model", "params", "extra", ...}]
    prompts = models.JSONField(default=list)
    configs = models.JSONField(default=list)
    scorers = models.JSONField(default=list, blank=True)  # [{"kind", ...options}]
    samples = models.PositiveSmallIntegerField(default=1)
    concurrency = models.PositiveSmallIntegerField(default=4)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # The process running it ("host:pid:boot") and when it last said so: a run whose process is gone
    # is marked interrupted (services.eval_interrupt_orphans).
    runner = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def columns(self) -> list[dict[str, object]]:
        """Prompt x configuration, prompt first: [{"index", "prompt", "config", "label"}]."""
        out: list[dict[str, object]] = []
        for p, prompt in enumerate(self.prompts):
            for c, config in enumerate(self.configs):
                label = config.get("label") or config.get("model") or f"config {c + 1}"
                if len(self.prompts) > 1:
                    label = f"{prompt.get('label') or f'prompt {p + 1}'} · {label}"
                out.append({"index": len(out), "prompt": p, "config": c, "label": label})
        return out


class EvalCell(models.Model):
    """One row x column x sample: its run, answer, figures and scores."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        ERROR = "error", "Error"
        STOPPED = "stopped", "Stopped"

    eval_run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="cells")
    row = models.PositiveIntegerField()
    column = models.PositiveIntegerField()
    sample = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    answer = models.TextField(blank=True)
    figures = models.JSONField(default=dict, blank=True)  # StreamRecord.figures() of its stream
    usage = models.JSONField(null=True, blank=True)
    scores = models.JSONField(default=list, blank=True)  # [{"kind", "passed", "score", "detail"}]
    passed = models.BooleanField(null=True)  # every scorer passed (None: no scorers, or not scored)
    error = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # requests sent (429s retried count too)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["row", "column", "sample"]
        constraints = [
            models.UniqueConstraint(fields=["eval_run", "row", "column", "sample"], name="eval_cell_once"),
        ]

    def __str__(self) -> str:
        return f"cell {self.row}/{self.column}/{self.sample} of eval {self.eval_run_id}"
