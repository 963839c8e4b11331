"""Forms for workspaces (settings, invitations, roles) and share links."""

from __future__ import annotations

from django import forms

from playground.models import Role, Visibility

EXPIRY_CHOICES = [("", "Never"), ("1", "1 day"), ("7", "7 days"), ("30", "30 days")]


class WorkspaceForm(forms.Form):
    """A new workspace's name."""

    name = forms.CharField(max_length=120)


class WorkspaceSettingsForm(forms.Form):
    """Rename the workspace; set or remove its Fireworks API key (never shown back)."""

    name = forms.CharField(max_length=120)
    api_key = forms.CharField(max_length=500, required=False, strip=True, widget=forms.PasswordInput)
    remove_api_key = forms.BooleanField(required=False)


class InvitationForm(forms.Form):
    """The role an invitation grants and when it expires."""

    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False, initial="7"
    )


class RoleForm(forms.Form):
    """A member's new role."""

    role = forms.ChoiceField(choices=Role.choices)


class SwitchForm(forms.Form):
    """The workspace to work in."""

    workspace = forms.IntegerField(min_value=1)


class ShareLinkForm(forms.Form):
    """A new share link's expiry and what it hides."""

    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False
    )
    hide_system_prompt = forms.BooleanField(required=False)
    hide_parameters = forms.BooleanField(required=False)


class VisibilityForm(forms.Form):
    """Private, or shared with the workspace."""

    visibility = forms.ChoiceField(choices=Visibility.choices)
