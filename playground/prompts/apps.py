from django.apps import AppConfig


class PromptsConfig(AppConfig):
    """Saved prompts with immutable versions, labels and ``{{variable}}`` templates."""

    name = "playground.prompts"
    label = "prompts"
    default_auto_field = "django.db.models.BigAutoField"
