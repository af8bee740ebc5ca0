"""Adapter for darktable (placeholder until its adapter lands)."""
