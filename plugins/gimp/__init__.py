"""Adapter for gimp (placeholder until its adapter lands)."""
