"""URL routes: the playground, saved conversations and runs, presets, sign-in/sign-up and the admin."""

from django.contrib import admin
from django.urls import include, path

from playground.views import accounts, code, compare, conversations, playground, presets, sharing, workspaces

urlpatterns = [
    path("", playground.playground, name="playground"),
    path("c/<int:conversation_id>/", playground.playground, name="conversation"),
    # Saved conversations and their runs.
    path("conversations/", conversations.conversation_list, name="conversation_list"),
    path("api/conversations/", conversations.api_conversations, name="api_conversations"),
    path("conversations/import/", conversations.conversation_import, name="conversation_import"),
    path("c/<int:conversation_id>/data/", conversations.conversation_data, name="conversation_data"),
    path("c/<int:conversation_id>/rename/", conversations.conversation_rename, name="conversation_rename"),
    path("c/<int:conversation_id>/delete/", conversations.conversation_delete, name="conversation_delete"),
    path(
        "c/<int:conversation_id>/duplicate/",
        conversations.conversation_duplicate,
        name="conversation_duplicate",
    ),
    path("c/<int:conversation_id>/fork/", conversations.conversation_fork, name="conversation_fork"),
    path("c/<int:conversation_id>/leaf/", conversations.conversation_leaf, name="conversation_leaf"),
    path("c/<int:conversation_id>/export/", conversations.conversation_export, name="conversation_export"),
    path("runs/<int:run_id>/", conversations.run_detail, name="run_detail"),
    path("runs/<int:run_id>/code/", code.run_code, name="run_code"),
    # Presets: the page and the JSON endpoints the playground uses.
    path("presets/", presets.presets_page, name="presets"),
    path("presets/import/", presets.presets_import, name="presets_import"),
    path("presets/export/", presets.presets_export, name="presets_export"),
    path("presets/<int:preset_id>/rename/", presets.preset_rename, name="preset_rename"),
    path("presets/<int:preset_id>/default/", presets.preset_default, name="preset_default"),
    path("presets/<int:preset_id>/delete/", presets.preset_delete_view, name="preset_delete"),
    path("presets/<int:preset_id>/move/", presets.preset_move_view, name="preset_move"),
    path("presets/<int:preset_id>/export/", presets.preset_export_one, name="preset_export"),
    path("api/presets/", presets.api_presets, name="api_presets"),
    path("api/presets/<int:preset_id>/", presets.api_preset, name="api_preset"),
    # Workspaces: settings, members, invitations; joining by a link; the switcher in the header.
    path("workspaces/new/", workspaces.workspace_create, name="workspace_create"),
    # A workspace's prices (playground/pricing).
    path("", include("playground.pricing.urls")),
    path("workspaces/switch/", workspaces.workspace_switch, name="workspace_switch"),
    path("workspaces/<int:workspace_id>/", workspaces.workspace_settings, name="workspace_settings"),
    path("workspaces/<int:workspace_id>/update/", workspaces.workspace_update, name="workspace_update"),
    path(
        "workspaces/<int:workspace_id>/invitations/",
        workspaces.invitation_create,
        name="invitation_create",
    ),
    path(
        "workspaces/<int:workspace_id>/invitations/<int:invitation_id>/revoke/",
        workspaces.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "workspaces/<int:workspace_id>/members/<int:membership_id>/role/",
        workspaces.member_role,
        name="member_role",
    ),
    path(
        "workspaces/<int:workspace_id>/members/<int:membership_id>/remove/",
        workspaces.member_remove,
        name="member_remove",
    ),
    path("join/<str:token>/", workspaces.join, name="join"),
    # Sharing: a conversation's links and visibility; the read-only shared page and forking from it.
    path("c/<int:conversation_id>/share/", sharing.share_links, name="share_links"),
    path("c/<int:conversation_id>/share/new/", sharing.share_link_create, name="share_link_create"),
    path(
        "c/<int:conversation_id>/visibility/", sharing.conversation_visibility, name="conversation_visibility"
    ),
    path("share/<int:share_link_id>/revoke/", sharing.share_link_revoke, name="share_link_revoke"),
    path("s/<str:token>/", sharing.shared, name="shared"),
    path("s/<str:token>/fork/", sharing.shared_fork, name="shared_fork"),
    # Compare, sweep, replay and presentation mode (playground/views/compare.py).
    path("compare/", compare.compare_page, name="compare"),
    path("compare/<int:comparison_id>/", compare.compare_page, name="comparison"),
    path("comparisons/", compare.comparison_list, name="comparison_list"),
    path("comparisons/<int:comparison_id>/rename/", compare.comparison_rename_view, name="comparison_rename"),
    path("comparisons/<int:comparison_id>/delete/", compare.comparison_delete_view, name="comparison_delete"),
    path("compare/<int:comparison_id>/share/", sharing.comparison_share_links, name="comparison_share_links"),
    path(
        "compare/<int:comparison_id>/share/new/",
        sharing.comparison_share_link_create,
        name="comparison_share_link_create",
    ),
    path(
        "compare/<int:comparison_id>/visibility/", sharing.comparison_visibility, name="comparison_visibility"
    ),
    path("api/comparisons/", compare.api_comparisons, name="api_comparisons"),
    path("api/comparisons/<int:comparison_id>/", compare.api_comparison, name="api_comparison"),
    path("runs/<int:run_id>/replay/", compare.run_replay, name="run_replay"),
    path("runs/<int:run_id>/replay.json", compare.run_replay_json, name="run_replay_json"),
    path("present/", compare.present_page, name="present"),
    # Saved prompts with versions and labels (playground/prompts/urls.py).
    path("", include("playground.prompts.urls")),
    path("api/runs/recorded/", compare.api_recorded_run, name="api_recorded_run"),
    # The live blind arena (playground/arena/).
    path("", include("playground.arena.urls")),
    # Accounts and the admin.
    path("admin/", admin.site.urls),
    path("accounts/signup/", playground.signup, name="signup"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
]
