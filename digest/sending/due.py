"""The beat tick and the support command: plan what is due, then send it.

The beat tick and ``send_digests --queue`` plan in shards (digest/editions/shards.py):
each shard is a Celery task that plans its readers and then queues their emails, so
sending starts as soon as the first shard is planned. ``send_digests`` without --queue
plans and sends inline, in this process.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from digest.editions import (
    digest_plan_due,
    digest_plan_open,
    digest_run_build,
    digest_shard_plan,
    digest_shards_stale,
    due_on_ids,
    plan_shard_ids,
    scheduling,
)
from digest.models import DigestRun
from digest.sending.runs import digest_run_send

SENDS_AFTER_PLANNING = (*DigestRun.SENDABLE_STATUSES, DigestRun.Status.DONE)


def digest_send_due(*, now: datetime | None = None) -> list[int]:
    """One beat tick: open the editions of everyone whose hour has come; queue their shards."""
    run_ids = []
    for planned in digest_plan_due(now=now):
        queue_shards(planned.shard_ids)
        run_ids.append(planned.run.pk)
    return run_ids


def digest_send_day(*, day: date, inline: bool = True) -> list[tuple[str, DigestRun | None]]:
    """Plan and send ``day``'s daily and weekly editions to everyone due that date,
    whatever their hour (``send_digests``): inline in this process, or in shards queued
    for the workers."""
    runs: list[tuple[str, DigestRun | None]] = []
    for frequency in (scheduling.DAILY, scheduling.WEEKLY):
        if inline:
            run = digest_run_build(day=day, frequency=frequency)
            if run is not None and run.status in (DigestRun.Status.APPROVED, DigestRun.Status.DONE):
                digest_run_send(run=run, inline=True)
        else:
            ids = due_on_ids(day=day, frequency=frequency)
            plan = digest_plan_open(day=day, frequency=frequency, subscriber_ids=ids)
            if plan is not None:
                queue_shards(plan_shard_ids(plan))
            run = DigestRun.objects.filter(edition_date=day, frequency=frequency).first()
        if run is not None:
            run.refresh_from_db()
        runs.append((frequency, run))
    return runs


def digest_shard_plan_send(*, shard_id: int) -> int:
    """Plan one shard, then queue the emails of its readers; how many it planned."""
    planned = digest_shard_plan(shard_id=shard_id)
    if planned is None:
        return 0  # another worker has it, or it is done
    run = DigestRun.objects.defer("papers").get(pk=planned.run_id)
    if run.status in SENDS_AFTER_PLANNING:
        digest_run_send(run=run, subscriber_ids=planned.subscriber_ids)
    return planned.planned


def digest_shards_requeue_stale(*, now: datetime | None = None) -> int:
    """Queue again the shards whose worker died (or whose task was lost); how many."""
    stale = digest_shards_stale(now=now)
    queue_shards(stale)
    return len(stale)


def queue_shards(shard_ids: Iterable[int]) -> None:
    from digest.tasks.send import plan_shard  # the tasks import this package

    for shard_id in shard_ids:
        plan_shard.delay_on_commit(shard_id)
