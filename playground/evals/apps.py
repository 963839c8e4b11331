from django.apps import AppConfig


class EvalsConfig(AppConfig):
    """Test sets, eval runs over them, and their scored cells (playground/evals/README.md)."""

    name = "playground.evals"
    label = "evals"
    default_auto_field = "django.db.models.BigAutoField"
