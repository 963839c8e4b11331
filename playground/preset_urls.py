"""Routes for presets (page and JSON endpoints) and for a run's code; included by playground/urls.py."""

from django.urls import path

from playground import code_views, preset_views

urlpatterns = [
    path("presets/", preset_views.presets_page, name="presets"),
    path("presets/import/", preset_views.presets_import, name="presets_import"),
    path("presets/export/", preset_views.presets_export, name="presets_export"),
    path("presets/<int:preset_id>/rename/", preset_views.preset_rename, name="preset_rename"),
    path("presets/<int:preset_id>/default/", preset_views.preset_default, name="preset_default"),
    path("presets/<int:preset_id>/delete/", preset_views.preset_delete_view, name="preset_delete"),
    path("presets/<int:preset_id>/export/", preset_views.preset_export_one, name="preset_export"),
    path("api/presets/", preset_views.api_presets, name="api_presets"),
    path("api/presets/<int:preset_id>/", preset_views.api_preset, name="api_preset"),
    path("runs/<int:run_id>/code/", code_views.run_code, name="run_code"),
]
