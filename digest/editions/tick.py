"""The beat tick's planning half: open the editions of everyone whose send hour has come.

Each edition's due readers are cut into shards (digest/editions/shards.py) that Celery
workers plan in parallel; queueing the shards, and sending what each planned, is the
sending stage's half (digest.sending.digest_send_due). Planning knows nothing of how
emails leave.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from digest.catalogue.selectors import latest_trending_day
from digest.editions import scheduling
from digest.editions.shards import digest_plan_open, plan_shard_ids, schedule_rows
from digest.models import Delivery, DigestRun

logger = logging.getLogger(__name__)

TICK_LOCK_SECONDS = 14 * 60


@dataclass(frozen=True, slots=True)
class PlannedEdition:
    """An edition this tick opened a planning pass of, and the pass's shards (ids), to
    be planned and sent by the workers."""

    run: DigestRun
    planned_since: datetime
    shard_ids: tuple[int, ...] = ()


def digest_plan_due(*, now: datetime | None = None) -> list[PlannedEdition]:
    """Open the editions of everyone whose hour has come (one beat tick), in shards.

    A lock in the shared cache (Redis) keyed by the 15-minute slot stops two beat
    processes, or a retried tick, from opening the same tick twice; the shards' locks,
    the unique deliveries and the claims make it harmless even without the lock.
    """
    now = now or timezone.now()
    slot = int(now.timestamp()) // (15 * 60)
    if not cache.add(f"digest:tick:{slot}", "1", timeout=TICK_LOCK_SECONDS):
        logger.info("tick %s already started elsewhere", slot)
        return []
    planned = []
    for (frequency, day), ids in _due_groups(now=now).items():
        opened = timezone.now()
        plan = digest_plan_open(day=day, frequency=frequency, subscriber_ids=ids)
        if plan is not None:
            run = DigestRun.objects.defer("papers").get(pk=plan.run_id)
            planned.append(PlannedEdition(run, opened, tuple(plan_shard_ids(plan))))
    return planned


def _due_groups(*, now: datetime) -> dict[tuple[str, date], list[int]]:
    """Who is due now, by edition: the scheduling fields only, streamed by id."""
    trending_day = latest_trending_day()
    groups: dict[tuple[str, date], list[int]] = defaultdict(list)
    for rows in schedule_rows():
        last_daily = _last_daily(first=rows[0].pk, last=rows[-1].pk, now=now)
        for item in scheduling.due_at(
            rows, at=now, trending_day=trending_day, last_daily=last_daily
        ):
            groups[(item.frequency, item.edition_date)].append(item.subscriber_id)
    return groups


def _last_daily(*, first: int, last: int, now: datetime) -> dict[int, datetime]:
    recent = (
        Delivery.objects.filter(
            run__frequency=scheduling.DAILY,
            created_at__gte=now - timedelta(days=2),
            subscriber_id__gte=first,
            subscriber_id__lte=last,
        )
        .values("subscriber_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    return {row["subscriber_id"]: row["last"] for row in recent}
