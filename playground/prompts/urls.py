"""Saved prompts' routes (included from playground/urls.py)."""

from django.urls import path

from playground.prompts import views

urlpatterns = [
    path("prompts/", views.prompts_page, name="prompts"),
    path("prompts/<int:prompt_id>/", views.prompt_page, name="prompt"),
    path("api/prompts/", views.api_prompts, name="api_prompts"),
    path("api/prompts/<int:prompt_id>/", views.api_prompt, name="api_prompt"),
    path("api/prompts/<int:prompt_id>/versions/", views.api_versions, name="api_prompt_versions"),
    path("api/prompts/<int:prompt_id>/labels/", views.api_labels, name="api_prompt_labels"),
    path("api/prompts/<int:prompt_id>/labels/<str:name>/", views.api_label, name="api_prompt_label"),
    path("api/prompts/<int:prompt_id>/diff/", views.api_diff, name="api_prompt_diff"),
    path("api/prompt-versions/<int:version_id>/", views.api_version, name="api_prompt_version"),
]
