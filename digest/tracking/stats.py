"""What the admin charts: per day, how many emails left and how far they got."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from digest.models import Delivery

Status = Delivery.Status


def delivery_daily_stats(*, days: int = 14, today: date | None = None) -> list[dict[str, Any]]:
    """Per day (of sending): sent / delivered / opened / clicked / bounced."""
    today = today or timezone.localdate()
    since = today - timedelta(days=days - 1)
    rows = (
        Delivery.objects.filter(sent_at__date__gte=since)
        .values("sent_at__date")
        .annotate(
            sent=Count("pk"),
            delivered=Count(
                "pk", filter=Q(status__in=[Status.DELIVERED, Status.OPENED, Status.CLICKED])
            ),
            opened=Count("pk", filter=Q(status__in=[Status.OPENED, Status.CLICKED])),
            clicked=Count("pk", filter=Q(status=Status.CLICKED)),
            bounced=Count("pk", filter=Q(status__in=[Status.BOUNCED, Status.COMPLAINED])),
        )
        .order_by("sent_at__date")
    )
    by_day: dict[date, Mapping[str, Any]] = {row["sent_at__date"]: row for row in rows}
    empty = {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "bounced": 0}
    return [
        {
            "day": since + timedelta(days=i),
            **{k: by_day.get(since + timedelta(days=i), empty)[k] for k in empty},
        }
        for i in range(days)
    ]
