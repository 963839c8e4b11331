"""The arena's routes (included by playground/urls.py)."""

from django.urls import path

from playground.arena import views

urlpatterns = [
    path("arena/", views.arena_list, name="arena_list"),
    path("api/arenas/", views.api_arenas, name="api_arenas"),
    path("arena/<int:arena_id>/", views.arena_stage, name="arena_stage"),
    path("arena/<int:arena_id>/qr.svg", views.arena_qr, name="arena_qr"),
    path("arena/<int:arena_id>/results/", views.arena_results, name="arena_results"),
    path("arena/<int:arena_id>/results.<str:kind>", views.arena_results, name="arena_results_export"),
    path("a/<str:token>/", views.arena_audience, name="arena_audience"),
    path("a/<str:token>/results/", views.arena_shared_results, name="arena_shared_results"),
    path("a/<str:token>/results.<str:kind>", views.arena_shared_results, name="arena_shared_export"),
]
