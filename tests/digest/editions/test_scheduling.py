from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from digest.editions import scheduling

TUESDAY = date(2026, 11, 17)


@dataclass
class Sub:
    pk: int = 1
    frequency: str = "daily"
    weekday: int = 0
    send_hour: int = 7
    timezone: str = "UTC"
    paused_until: date | None = None


def at(hour: int, day: date = TUESDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_it_is_due_once_the_local_send_hour_has_come():
    sub = Sub(send_hour=7, timezone="Europe/Paris")  # UTC+1 in November
    assert not scheduling.is_due_at(sub, at(5))
    assert scheduling.is_due_at(sub, at(6))
    assert scheduling.is_due_at(sub, at(15))


def test_it_honours_pause_inclusive_and_weekday():
    assert not scheduling.is_due_on(Sub(paused_until=TUESDAY), TUESDAY)
    assert scheduling.is_due_on(Sub(paused_until=date(2026, 11, 16)), TUESDAY)
    assert scheduling.is_due_on(Sub(frequency="weekly", weekday=1), TUESDAY)
    assert not scheduling.is_due_on(Sub(frequency="weekly", weekday=2), TUESDAY)


def test_it_gives_daily_readers_the_trending_day_only_once_their_local_date_reaches_it():
    los_angeles = Sub(pk=1, timezone="America/Los_Angeles")
    # 07:00 UTC on the 17th is 23:00 on the 16th in Los Angeles: not yet.
    assert scheduling.due_at([los_angeles], at=at(7), trending_day=TUESDAY) == []
    due = scheduling.due_at([los_angeles], at=at(15), trending_day=TUESDAY)
    assert due == [scheduling.Due(1, "daily", TUESDAY, TUESDAY)]


def test_it_sends_at_most_one_daily_digest_per_local_date():
    tokyo = Sub(pk=7, timezone="Asia/Tokyo")
    earlier_today = datetime(2026, 11, 17, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    due = scheduling.due_at([tokyo], at=at(8), trending_day=TUESDAY, last_daily={7: earlier_today})
    assert due == []


def test_it_keys_weekly_editions_by_the_local_date():
    weekly = Sub(pk=3, frequency="weekly", weekday=1, timezone="Asia/Tokyo")
    due = scheduling.due_at([weekly], at=at(0), trending_day=None)
    assert due == [scheduling.Due(3, "weekly", TUESDAY, TUESDAY)]


def test_it_falls_back_to_utc_for_an_unknown_zone():
    assert scheduling.is_due_at(Sub(timezone="Mars/Olympus"), at(7))
