"""Counts from events: a delivery counts in every stage it reached, whatever its status now.

A delivery's status only moves forward (digest/tracking/events.py), so it keeps the
furthest stage only: a soft bounce later opened stays "bounced", and an open that
arrives after a bounce does not even set ``opened_at``. The stored ESP events
(TrackingEvent) are the full record, so a stage counts when any of these says so:
the status, the stage's timestamp, or an event of the stage (or of a later stage that
implies it: a click implies an open, an open a delivery).

Emails are counted by the day they were sent (the funnel of that day's emails);
readers by the day they signed up, confirmed or left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from digest.models import Delivery, TrackingEvent
from subscriptions.models import ConsentRecord, Subscriber

Status = Delivery.Status
CHART_DAYS = 30
# stage -> (statuses that mean it was reached, timestamp fields, event types)
_EVIDENCE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "delivered": (
        (Status.DELIVERED, Status.OPENED, Status.CLICKED),
        ("delivered_at", "opened_at", "clicked_at"),
        ("delivered", "opened", "clicked"),
    ),
    "opened": (
        (Status.OPENED, Status.CLICKED),
        ("opened_at", "clicked_at"),
        ("opened", "clicked"),
    ),
    "clicked": ((Status.CLICKED,), ("clicked_at",), ("clicked",)),
    "bounced": ((Status.BOUNCED,), ("bounced_at",), ("bounced",)),
    "complained": ((Status.COMPLAINED,), (), ("complained",)),
}
STAGES = ("sent", *_EVIDENCE)


def reached(stage: str) -> Q:
    """The condition "this delivery reached ``stage``" on Delivery rows (one row at a time:
    for the export; counts use the faster two-step form below)."""
    if stage == "sent":
        return _direct(stage)
    event = TrackingEvent.objects.filter(
        delivery=OuterRef("pk"), event_type__in=_EVIDENCE[stage][2]
    )
    return _direct(stage) | Q(Exists(event))


def _direct(stage: str) -> Q:
    """What the delivery row itself says: its status or the stage's timestamps."""
    if stage == "sent":
        return Q(status__in=Delivery.LEFT_STATUSES) | Q(sent_at__isnull=False)
    statuses, stamps, _ = _EVIDENCE[stage]
    condition = Q(status__in=statuses)
    for stamp in stamps:
        condition |= Q(**{f"{stamp}__isnull": False})
    return condition


def _only_in_events(stage: str, deliveries: QuerySet[Delivery]) -> QuerySet[TrackingEvent]:
    """Events of ``stage`` for deliveries whose row does not say it: counted on top of
    the rows. Two grouped queries (rows, then events joined once) instead of a
    subquery per delivery: 30 days of a large list are millions of rows."""
    unsaid = deliveries.order_by().exclude(_direct(stage)).values("pk")
    return TrackingEvent.objects.filter(event_type__in=_EVIDENCE[stage][2], delivery__in=unsaid)


def delivery_funnel(*, deliveries: QuerySet[Delivery]) -> dict[str, int]:
    """How many of ``deliveries`` reached each stage (sent, delivered, opened, ...)."""
    direct = {stage: Count("pk", filter=_direct(stage)) for stage in STAGES}
    counts = {k: v or 0 for k, v in deliveries.order_by().aggregate(**direct).items()}
    for stage in _EVIDENCE:
        extra = _only_in_events(stage, deliveries).aggregate(n=Count("delivery", distinct=True))
        counts[stage] += extra["n"] or 0
    return {stage: counts[stage] for stage in STAGES}


@dataclass(frozen=True)
class DailyStats:
    days: list[date]
    series: dict[str, list[int]]  # name -> one count per day


def daily_stats(*, days: int = CHART_DAYS, today: date | None = None) -> DailyStats:
    """The dashboard's charts: per day, the emails' stages and the readers' comings and goings."""
    today = today or timezone.localdate()
    since = today - timedelta(days=days - 1)
    axis = [since + timedelta(days=i) for i in range(days)]
    series: dict[str, list[int]] = _emails_per_day(axis, since)
    series["unsubscribed"] = _per_day_count(
        axis, ConsentRecord.objects.filter(unsubscribed_at__date__gte=since), "unsubscribed_at"
    )
    series["new readers"] = _per_day_count(
        axis, Subscriber.objects.filter(created_at__date__gte=since), "created_at"
    )
    series["confirmed"] = _per_day_count(
        axis, ConsentRecord.objects.filter(confirmed_at__date__gte=since), "confirmed_at"
    )
    return DailyStats(days=axis, series=series)


def _emails_per_day(axis: list[date], since: date) -> dict[str, list[int]]:
    # A delivery a sweeper settled may have left without a sent_at: its claim dates it.
    sent = Delivery.objects.annotate(day=TruncDate(Coalesce("sent_at", "claimed_at"))).filter(
        _direct("sent"), day__gte=since
    )
    direct = {stage: Count("pk", filter=_direct(stage)) for stage in STAGES}
    rows = {row["day"]: row for row in sent.values("day").annotate(**direct).order_by()}
    series = {stage: [rows.get(day, {}).get(stage, 0) for day in axis] for stage in STAGES}
    send_day = TruncDate(Coalesce("delivery__sent_at", "delivery__claimed_at"))
    for stage in _EVIDENCE:
        extra = dict(
            _only_in_events(stage, sent)
            .annotate(day=send_day)
            .values("day")
            .annotate(n=Count("delivery", distinct=True))
            .values_list("day", "n")
            .order_by()
        )
        series[stage] = [n + extra.get(day, 0) for n, day in zip(series[stage], axis, strict=True)]
    return series


def _per_day_count(axis: list[date], rows: QuerySet[Any], field: str) -> list[int]:
    counts = dict(
        rows.annotate(day=TruncDate(field))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    return [counts.get(day, 0) for day in axis]


def suppression_counts() -> dict[str, int]:
    """Readers suppressed now (unsubscribed, and their last consent ended by a hard
    bounce or a complaint), and active readers with soft bounces counting to the limit."""
    method = ConsentRecord.UnsubscribeMethod
    last_method = (
        ConsentRecord.objects.filter(subscriber=OuterRef("pk"))
        .order_by("-pk")
        .values("unsubscribe_method")[:1]
    )
    ended = dict(
        Subscriber.objects.filter(status=Subscriber.Status.UNSUBSCRIBED)
        .annotate(method=Subquery(last_method))
        .filter(method__in=[method.BOUNCE, method.COMPLAINT])
        .values("method")
        .annotate(n=Count("pk"))
        .values_list("method", "n")
    )
    soft = Subscriber.objects.sendable().filter(soft_bounce_count__gt=0).count()
    return {
        "bounce": ended.get(method.BOUNCE, 0),
        "complaint": ended.get(method.COMPLAINT, 0),
        "soft_bouncing": soft,
    }
