"""A message's content, a string or a list of parts (text, image_url), read as plain text (pure)."""

from __future__ import annotations

from typing import Any


def content_text(content: Any) -> str:
    """The text of a message's content: the string, or its text parts joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""
