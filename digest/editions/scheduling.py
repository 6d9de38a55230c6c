"""Who is due for a digest, and which edition: pure functions, no ORM.

Editions are keyed by date. A daily edition carries the papers of one trending day
(``edition_date`` = that day); a weekly edition is keyed by the subscriber's local send
date and carries the seven days before it. A subscriber is due once their *local* send
hour has come (local hour >= send_hour, so a late or missed beat tick catches up later
the same local day), on their weekday for weekly digests, and not while paused
(``paused_until`` is inclusive). Whether they already got the edition is the caller's
business (one Delivery per subscriber and edition, unique in the database).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from subscriptions.models import Frequency

DAILY = Frequency.DAILY
WEEKLY = Frequency.WEEKLY
WEEK_DAYS = 7


class Schedulable(Protocol):
    # Read-only, so frozen rows (ranking's SubscriberInputs) fit as well as models.
    @property
    def pk(self) -> int: ...
    @property
    def frequency(self) -> str: ...
    @property
    def weekday(self) -> int: ...
    @property
    def send_hour(self) -> int: ...
    @property
    def timezone(self) -> str: ...
    @property
    def paused_until(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class Due:
    """A subscriber due now, for which edition."""

    subscriber_id: int
    frequency: str
    edition_date: date
    local_date: date


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # A bad stored zone must not stop everyone else's digest.
        return ZoneInfo("UTC")


def local_time(sub: Schedulable, at: datetime) -> datetime:
    return at.astimezone(_zone(sub.timezone or "UTC"))


def is_paused(sub: Schedulable, day: date) -> bool:
    return sub.paused_until is not None and day <= sub.paused_until


def is_due_on(sub: Schedulable, day: date) -> bool:
    """Due on a calendar date whatever the hour (``send_digests --date``)."""
    if is_paused(sub, day):
        return False
    if sub.frequency == WEEKLY:
        return day.weekday() == sub.weekday
    return True


def is_due_at(sub: Schedulable, at: datetime) -> bool:
    """Due at this instant: their local send hour has come on a day they get a digest."""
    local = local_time(sub, at)
    return local.hour >= sub.send_hour and is_due_on(sub, local.date())


def weekly_window(edition_date: date) -> date:
    """First day of the week a weekly edition covers: the seven days before it."""
    return edition_date - timedelta(days=WEEK_DAYS)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def due_at(
    subscribers: Iterable[Schedulable],
    *,
    at: datetime,
    trending_day: date | None,
    last_daily: Mapping[int, datetime] | None = None,
) -> list[Due]:
    """Everyone due at ``at``, with the edition they are due for.

    Daily subscribers get the latest trending day's edition, but only once their local
    date has reached it (a reader in Los Angeles gets day D at 7:00 on their D, not the
    evening before) and at most one daily digest per local date (``last_daily``: when
    each subscriber's latest daily delivery was planned). Weekly subscribers get the
    edition of their local date.
    """
    last_daily = last_daily or {}
    due = []
    for sub in subscribers:
        if not is_due_at(sub, at):
            continue
        local_day = local_time(sub, at).date()
        if sub.frequency == WEEKLY:
            due.append(Due(sub.pk, WEEKLY, local_day, local_day))
            continue
        if trending_day is None or trending_day > local_day:
            continue
        last = last_daily.get(sub.pk)
        if last is not None and local_time(sub, last).date() == local_day:
            continue
        due.append(Due(sub.pk, DAILY, trending_day, local_day))
    return due
