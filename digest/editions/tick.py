"""The beat tick's planning half: build the editions of everyone whose send hour has come.

Sending what it planned is the sending stage's half (digest.sending.digest_send_due),
which calls this first; planning knows nothing of how emails leave.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from digest.catalogue.selectors import latest_trending_day
from digest.editions import scheduling
from digest.editions.planning import digest_run_build, due_subscriber_rows
from digest.models import Delivery, DigestRun

if TYPE_CHECKING:  # digest.ranking (scikit-learn) is imported only when a run is built
    from digest.ranking.inputs import SubscriberInputs

logger = logging.getLogger(__name__)

TICK_LOCK_SECONDS = 14 * 60


@dataclass(frozen=True, slots=True)
class PlannedEdition:
    """An edition this tick planned readers into, and when its planning started: the
    deliveries created since then are this tick's to send."""

    run: DigestRun
    planned_since: datetime


def digest_plan_due(*, now: datetime | None = None) -> list[PlannedEdition]:
    """Plan the editions of everyone whose hour has come (one beat tick).

    A lock in the shared cache (Redis) keyed by the 15-minute slot stops two beat
    processes, or a retried tick, from planning the same tick twice; the unique
    deliveries and the claims make it harmless even without the lock.
    """
    now = now or timezone.now()
    slot = int(now.timestamp()) // (15 * 60)
    if not cache.add(f"digest:tick:{slot}", "1", timeout=TICK_LOCK_SECONDS):
        logger.info("tick %s already started elsewhere", slot)
        return []
    planned = []
    for (frequency, day), subscribers in _due_groups(now=now).items():
        planning = timezone.now()
        run = digest_run_build(day=day, frequency=frequency, subscribers=subscribers)
        if run is not None:
            planned.append(PlannedEdition(run=run, planned_since=planning))
    return planned


def _due_groups(*, now: datetime) -> dict[tuple[str, date], list[SubscriberInputs]]:
    # The same rows as the support command's path (planning.due_subscriber_rows), so
    # the tick ranks exactly what the benchmarks measure.
    rows = due_subscriber_rows()
    recent = (
        Delivery.objects.filter(
            run__frequency=scheduling.DAILY, created_at__gte=now - timedelta(days=2)
        )
        .values("subscriber_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    last_daily = {row["subscriber_id"]: row["last"] for row in recent}
    due = scheduling.due_at(rows, at=now, trending_day=latest_trending_day(), last_daily=last_daily)
    by_id = {row.pk: row for row in rows}
    groups: dict[tuple[str, date], list[SubscriberInputs]] = defaultdict(list)
    for item in due:
        groups[(item.frequency, item.edition_date)].append(by_id[item.subscriber_id])
    return groups
