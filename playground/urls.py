"""URL routes: the playground, saved conversations and runs, presets, sign-in/sign-up and the admin."""

from django.contrib import admin
from django.urls import include, path

from playground.views import code, conversations, playground, presets

urlpatterns = [
    path("", playground.playground, name="playground"),
    path("c/<int:conversation_id>/", playground.playground, name="conversation"),
    # Saved conversations and their runs.
    path("conversations/", conversations.conversation_list, name="conversation_list"),
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
    path("presets/<int:preset_id>/export/", presets.preset_export_one, name="preset_export"),
    path("api/presets/", presets.api_presets, name="api_presets"),
    path("api/presets/<int:preset_id>/", presets.api_preset, name="api_preset"),
    # Accounts and the admin.
    path("admin/", admin.site.urls),
    path("accounts/signup/", playground.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
]
