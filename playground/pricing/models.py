"""A workspace's own prices: an override of a default model's price, or a deployment the user prices."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from playground.models import Workspace


class ModelPrice(models.Model):
    """The price a workspace's runs of one model id (or deployment path) are costed at, in USD per
    million tokens. It wins over the defaults file (``playground/pricing/defaults.py``)."""

    class Kind(models.TextChoices):
        OVERRIDE = "override", "Override of a default price"
        DEPLOYMENT = "deployment", "Deployment or other model, priced by you"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="model_prices")
    # The model id exactly as runs send it: accounts/<a>/models/<m>, accounts/<a>/deployments/<d>, or
    # a model#deployment pair.
    model = models.CharField(max_length=300)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OVERRIDE)
    input = models.DecimalField(max_digits=12, decimal_places=6)
    # Null: not known, costed at the input price.
    cached_input = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    output = models.DecimalField(max_digits=12, decimal_places=6)
    note = models.CharField(max_length=200, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "model"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "model"], name="pricing_one_price_per_model"),
        ]

    def __str__(self) -> str:
        return f"{self.model} in {self.workspace_id}: {self.input}/{self.cached_input}/{self.output}"
