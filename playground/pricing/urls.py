"""Routes of the Pricing page (included by playground/urls.py)."""

from django.urls import path

from playground.pricing import views

urlpatterns = [
    path("workspaces/<int:workspace_id>/pricing/", views.pricing_page, name="pricing"),
    path("workspaces/<int:workspace_id>/pricing/set/", views.pricing_set, name="pricing_set"),
    path(
        "workspaces/<int:workspace_id>/pricing/<int:price_id>/delete/",
        views.pricing_delete,
        name="pricing_delete",
    ),
]
