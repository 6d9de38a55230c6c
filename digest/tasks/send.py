"""Sending and tracking tasks: thin wrappers; ids in, one service called.

All are acks_late (set globally too): a task whose worker dies is re-delivered, and the
claims in delivery_send_chunk make the re-run send only what was never claimed.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from digest import editions, sending, tracking

__all__ = [
    "drop_old_pick_details",
    "plan_shard",
    "process_tracking_event",
    "requeue_plan_shards",
    "send_deliveries",
    "send_due_digests",
    "sweep_stuck_deliveries",
]


@shared_task(name="digest.tasks.send_due_digests", acks_late=True)
def send_due_digests() -> list[int]:
    return sending.digest_send_due()


@shared_task(
    name="digest.tasks.send_deliveries",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def send_deliveries(delivery_ids: list[int]) -> dict[str, int]:
    result = sending.delivery_send_chunk(delivery_ids=delivery_ids)
    return {"sent": result.sent, "failed": result.failed, "skipped": result.skipped}


@shared_task(
    name="digest.tasks.plan_shard",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def plan_shard(shard_id: int) -> int:
    return sending.digest_shard_plan_send(shard_id=shard_id)


@shared_task(name="digest.tasks.requeue_plan_shards", acks_late=True)
def requeue_plan_shards() -> int:
    return sending.digest_shards_requeue_stale()


@shared_task(name="digest.tasks.sweep_stuck_deliveries", acks_late=True)
def sweep_stuck_deliveries() -> int:
    return sending.delivery_sweep_stuck()


@shared_task(
    name="digest.tasks.process_tracking_event",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def process_tracking_event(tracking_event_id: int) -> None:
    tracking.tracking_event_process(tracking_event_id=tracking_event_id)


@shared_task(name="digest.tasks.drop_old_pick_details", acks_late=True)
def drop_old_pick_details() -> int:
    return editions.digest_pick_details_drop()
