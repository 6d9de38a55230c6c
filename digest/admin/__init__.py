"""Admin for the catalogue (papers, trends, fetch runs) and the runs (digests, deliveries)."""

from digest.admin import catalogue, runs  # noqa: F401
