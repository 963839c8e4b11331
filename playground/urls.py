"""URL routes: the playground page, sign-in/sign-up and the admin."""

from django.contrib import admin
from django.urls import include, path

from playground import views

urlpatterns = [
    path("", views.playground, name="playground"),
    path("c/<int:conversation_id>/", views.playground, name="conversation"),
    path("", include("playground.conversation_urls")),
    path("", include("playground.preset_urls")),
    path("admin/", admin.site.urls),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
]
