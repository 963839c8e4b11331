"""Routes of the saved-work pages (included from playground/urls.py)."""

from django.urls import path

from playground import conversation_views as views

urlpatterns = [
    path("conversations/", views.conversation_list, name="conversation_list"),
    path("conversations/import/", views.conversation_import, name="conversation_import"),
    path("c/<int:conversation_id>/data/", views.conversation_data, name="conversation_data"),
    path("c/<int:conversation_id>/rename/", views.conversation_rename, name="conversation_rename"),
    path("c/<int:conversation_id>/delete/", views.conversation_delete, name="conversation_delete"),
    path("c/<int:conversation_id>/duplicate/", views.conversation_duplicate, name="conversation_duplicate"),
    path("c/<int:conversation_id>/fork/", views.conversation_fork, name="conversation_fork"),
    path("c/<int:conversation_id>/leaf/", views.conversation_leaf, name="conversation_leaf"),
    path("c/<int:conversation_id>/export/", views.conversation_export, name="conversation_export"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
]
