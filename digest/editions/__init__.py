"""Editions: who is due (scheduling.py), planning an edition and its papers snapshot
(planning.py, snapshot.py), planning in shards across workers (shards.py), the beat
tick's planning half (tick.py), a run's life and counts (runs.py) and the retention of
old deliveries' detail (retention.py). One DigestRun per date and frequency, one
Delivery per reader.
"""

from digest.editions.planning import digest_run_build, due_subscriber_rows
from digest.editions.retention import digest_pick_details_drop
from digest.editions.runs import digest_run_recount_soon, digest_run_refresh
from digest.editions.shards import (
    PlannedShard,
    digest_plan_open,
    digest_shard_plan,
    digest_shards_stale,
    due_on_ids,
    plan_shard_ids,
)
from digest.editions.tick import PlannedEdition, digest_plan_due

__all__ = [
    "PlannedEdition",
    "PlannedShard",
    "digest_pick_details_drop",
    "digest_plan_due",
    "digest_plan_open",
    "digest_run_build",
    "digest_run_recount_soon",
    "digest_run_refresh",
    "digest_shard_plan",
    "digest_shards_stale",
    "due_on_ids",
    "due_subscriber_rows",
    "plan_shard_ids",
]
