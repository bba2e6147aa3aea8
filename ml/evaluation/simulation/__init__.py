"""Synthetic users, their hidden tastes and their world, for ``nudge simulate``."""
