"""Admin: browse conversations, messages and runs; the JSON records are shown read-only and indented."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.utils.html import format_html

from playground.models import Conversation, Message, Run


def pretty_json(field: str) -> Callable[[Any], str]:
    """A read-only admin field showing one JSON field of the object, indented."""

    @admin.display(description=field.replace("_", " "))
    def show(obj: Any) -> str:
        text = json.dumps(getattr(obj, field), indent=2, ensure_ascii=False)
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text)

    return show


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ("position", "role", "content", "reasoning", "created_at")
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "mode", "model", "updated_at")
    list_filter = ("mode",)
    search_fields = ("title", "owner__username", "model")
    exclude = ("params", "extra")
    readonly_fields = ("created_at", "updated_at", pretty_json("params"), pretty_json("extra"))
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("conversation", "position", "role", "created_at")
    list_filter = ("role",)
    exclude = ("content", "tool_calls")
    readonly_fields = ("created_at", pretty_json("content"), pretty_json("tool_calls"))


RUN_JSON_FIELDS = (
    "request",
    "response_headers",
    "sampling_options",
    "requested_options",
    "rate_limits",
    "usage",
    "perf_metrics",
    "timings",
    "output",
    "finish_reasons",
    "error",
    "timeline",
)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("pk", "conversation", "started_by", "model", "status", "started_at", "finished_at")
    list_filter = ("status", "endpoint")
    search_fields = ("request_id", "model", "conversation__title")
    exclude = RUN_JSON_FIELDS
    readonly_fields = (
        "conversation",
        "message",
        "started_by",
        "endpoint",
        "model",
        "status",
        "request_id",
        "response_model",
        "started_at",
        "finished_at",
        *(pretty_json(f) for f in RUN_JSON_FIELDS),
    )
