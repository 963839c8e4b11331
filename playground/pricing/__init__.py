"""Prices per model: Fireworks' public defaults (a data file), per-workspace overrides and
user-priced deployments; ``selectors.price_for`` is the price a run is started with (README.md)."""
