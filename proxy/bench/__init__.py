"""The proxy benchmark: a load generator, the fan-out client and the report."""
