from django.urls import path

from playground.evals import views

urlpatterns = [
    path("evals/", views.eval_list, name="eval_list"),
    path("evals/new/", views.eval_new, name="eval_new"),
    path("evals/<int:eval_id>/", views.eval_page, name="eval_page"),
    path("evals/<int:eval_id>/data/", views.eval_data, name="eval_data"),
    path("evals/<int:eval_id>/export.<str:fmt>", views.eval_export, name="eval_export"),
    path("evals/<int:eval_id>/rerun/", views.eval_rerun, name="eval_rerun"),
    path("evals/<int:eval_id>/share/", views.eval_share, name="eval_share"),
    path("evals/s/<str:token>/", views.eval_shared, name="eval_shared"),
    path("evals/sets/new/", views.test_set_page, name="test_set_new"),
    path("evals/sets/<int:test_set_id>/", views.test_set_page, name="test_set"),
    path("evals/sets/<int:test_set_id>/export.<str:fmt>", views.test_set_export, name="test_set_export"),
    path("api/evals/sets/", views.api_test_sets, name="api_test_sets"),
    path("api/evals/sets/<int:test_set_id>/", views.api_test_set, name="api_test_set"),
]
