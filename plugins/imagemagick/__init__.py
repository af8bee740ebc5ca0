"""Adapter for imagemagick (placeholder until its adapter lands)."""
