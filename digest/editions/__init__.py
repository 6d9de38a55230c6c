"""Editions: who is due (scheduling.py), planning an edition and its papers snapshot
(planning.py, snapshot.py), the beat tick's planning half (tick.py), and a run's life
and counts (runs.py). One DigestRun per date and frequency, one Delivery per reader.
"""

from digest.editions.planning import digest_run_build, due_subscriber_rows
from digest.editions.runs import digest_run_recount_soon, digest_run_refresh
from digest.editions.tick import PlannedEdition, digest_plan_due

__all__ = [
    "PlannedEdition",
    "digest_plan_due",
    "digest_run_build",
    "digest_run_recount_soon",
    "digest_run_refresh",
    "due_subscriber_rows",
]
