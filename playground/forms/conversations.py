"""Forms of the conversation pages: the list's filters, rename, branch switch, fork and import."""

from __future__ import annotations

import json
from typing import Any

from django import forms

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class ConversationFilterForm(forms.Form):
    """The list's search box, model filter and page number."""

    q = forms.CharField(required=False, max_length=200, strip=True)
    model = forms.CharField(required=False, max_length=300)
    page = forms.IntegerField(required=False, min_value=1)


class RenameForm(forms.Form):
    """A new title."""

    title = forms.CharField(max_length=200, strip=True)


class MessageForm(forms.Form):
    """Names one message of the conversation (the branch to show, or where to fork)."""

    message = forms.IntegerField(min_value=1)


class ImportForm(forms.Form):
    """A conversation export file (JSON)."""

    file = forms.FileField()

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError("The file is larger than 20 MB.")
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise forms.ValidationError(f"The file is not JSON: {exc}") from None
