from django.apps import AppConfig


class ArenaConfig(AppConfig):
    """The live blind arena: configurations, a prompt queue, anonymised answers and the audience's votes."""

    name = "playground.arena"
    label = "arena"
    default_auto_field = "django.db.models.BigAutoField"
