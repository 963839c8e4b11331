from django.apps import AppConfig


class PricingConfig(AppConfig):
    """Model prices and what runs cost (playground/pricing/README.md)."""

    name = "playground.pricing"
    label = "pricing"
    default_auto_field = "django.db.models.BigAutoField"
