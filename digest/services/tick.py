"""The beat tick: build and queue the editions of everyone whose send hour has come."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from digest import scheduling
from digest.models import Delivery
from digest.services.build import _active_subscribers, digest_run_build
from digest.services.common import SENDABLE, RunStatus
from digest.services.send import digest_run_send
from subscriptions.models import Subscriber

logger = logging.getLogger(__name__)

TICK_LOCK_SECONDS = 14 * 60


def digest_send_due(*, now: datetime | None = None) -> list[int]:
    """One beat tick: build and queue the editions of everyone whose hour has come.

    A lock in the shared cache (Redis) keyed by the 15-minute slot stops two beat
    processes, or a retried tick, from starting the same tick twice; the unique
    deliveries and the claims make it harmless even without the lock.
    """
    now = now or timezone.now()
    slot = int(now.timestamp()) // (15 * 60)
    if not cache.add(f"digest:tick:{slot}", "1", timeout=TICK_LOCK_SECONDS):
        logger.info("tick %s already started elsewhere", slot)
        return []
    run_ids = []
    for (frequency, day), subscribers in _due_groups(now=now).items():
        planning = timezone.now()
        run = digest_run_build(day=day, frequency=frequency, subscribers=subscribers)
        if run is None:
            continue
        if run.status in (*SENDABLE, RunStatus.DONE):
            # The edition is shared by every hour's readers: queue only this tick's.
            digest_run_send(run=run, planned_since=planning)
        run_ids.append(run.pk)
    return run_ids


def _due_groups(*, now: datetime) -> dict[tuple[str, date], list[Subscriber]]:
    from digest import selectors

    subscribers = list(_active_subscribers())
    recent = (
        Delivery.objects.filter(
            run__frequency=scheduling.DAILY, created_at__gte=now - timedelta(days=2)
        )
        .values("subscriber_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    last_daily = {row["subscriber_id"]: row["last"] for row in recent}
    due = scheduling.due_at(
        subscribers, at=now, trending_day=selectors.latest_trending_day(), last_daily=last_daily
    )
    by_id = {sub.pk: sub for sub in subscribers}
    groups: dict[tuple[str, date], list[Subscriber]] = defaultdict(list)
    for item in due:
        groups[(item.frequency, item.edition_date)].append(by_id[item.subscriber_id])
    return groups
