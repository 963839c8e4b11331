from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    """The playground's main app: saved conversations, runs and the pages."""

    name = "playground"
