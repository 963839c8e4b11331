"""Forms for the preset pages and JSON endpoints: the request's shape; values are checked by the services."""

from __future__ import annotations

from django import forms

from playground.models import Mode, Scope


class PresetForm(forms.Form):
    """A whole preset, as the playground page saves it (JSON body) or an update sends it."""

    name = forms.CharField(max_length=120)
    mode = forms.ChoiceField(choices=Mode.choices, required=False)
    model = forms.CharField(max_length=300, required=False)
    system_prompt = forms.CharField(required=False, strip=False)
    params = forms.JSONField(required=False)
    extra = forms.JSONField(required=False)
    is_default = forms.BooleanField(required=False)
    # "personal" (My presets) or "workspace" (the current workspace's library).
    scope = forms.ChoiceField(choices=Scope.choices, required=False)

    def clean_mode(self) -> str:
        return self.cleaned_data.get("mode") or Mode.CHAT

    def clean_scope(self) -> str:
        return self.cleaned_data.get("scope") or Scope.PERSONAL


class MoveForm(forms.Form):
    """Where a preset goes: "My presets" or the current workspace's library."""

    scope = forms.ChoiceField(choices=Scope.choices)


class RenameForm(forms.Form):
    """A new name for a preset."""

    name = forms.CharField(max_length=120)


class DefaultForm(forms.Form):
    """Whether a preset is the default for new conversations."""

    is_default = forms.BooleanField(required=False)


class ImportForm(forms.Form):
    """An exported presets JSON file."""

    file = forms.FileField()


class CompareForm(forms.Form):
    """Two presets to show side by side."""

    a = forms.IntegerField()
    b = forms.IntegerField()
