import logging
from typing import Any

from django.apps import AppConfig


def _personal_workspace(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    # Every account has a personal workspace from the start (sign-up, createsuperuser, scripts, tests).
    if created and not raw:
        from playground.models import personal_workspace_of

        personal_workspace_of(instance.pk)


class PlaygroundConfig(AppConfig):
    """The playground's main app: saved conversations, runs and the pages."""

    name = "playground"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_save

        post_save.connect(_personal_workspace, sender=settings.AUTH_USER_MODEL, dispatch_uid="personal_ws")
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from playground import throttle

        user_login_failed.connect(throttle.on_login_failed, dispatch_uid="throttle_login_failed")
        user_logged_in.connect(throttle.on_logged_in, dispatch_uid="throttle_logged_in")
        secret_file = getattr(settings, "PLAYGROUND_SECRET_FILE", "")
        if secret_file:
            # One line naming the file (never the secret): DJANGO_SECRET_KEY is unset.
            logging.getLogger("playground").info(
                "DJANGO_SECRET_KEY is not set: using the local secret %s %s (keep it; set DJANGO_SECRET_KEY "
                "to the same value on every process of a deployment).",
                "generated in" if settings.PLAYGROUND_SECRET_GENERATED else "in",
                secret_file,
            )
