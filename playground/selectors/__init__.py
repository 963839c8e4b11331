"""Reads, with the permission filtering in one place per entity."""
