"""Writes, keyword-only ``<entity>_<action>`` functions, each in one transaction: one module per entity."""
