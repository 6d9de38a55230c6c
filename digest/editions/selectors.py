"""Read queries over editions and their deliveries (the web version and the feed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digest.models import Delivery
from subscriptions.models import Subscriber


@dataclass(frozen=True, slots=True)
class FeedEntry:
    entry_id: str
    title: str
    url: str
    summary: str
    reason: str
    authors: str
    updated: datetime


def delivery_for_subscriber(*, subscriber: Subscriber, delivery_id: str) -> Delivery | None:
    # isdigit() alone accepts "²", which int() refuses; 18 digits fit a bigint.
    if not (delivery_id.isascii() and delivery_id.isdigit()) or len(delivery_id) > 18:
        return None
    return (
        Delivery.objects.select_related("run", "subscriber")
        .filter(pk=int(delivery_id), subscriber=subscriber)
        .first()
    )


def feed_entries(*, subscriber: Subscriber, limit: int) -> list[FeedEntry]:
    """The subscriber's picks from digests that went out, newest first."""
    deliveries = (
        Delivery.objects.select_related("run")
        .filter(subscriber=subscriber, status__in=Delivery.LEFT_STATUSES, sent_at__isnull=False)
        .order_by("-sent_at")[:limit]
    )
    entries: list[FeedEntry] = []
    for delivery in deliveries:
        for pick in delivery.picks:
            paper: dict[str, Any] = delivery.run.papers.get(pick["arxiv_id"], {})
            entries.append(
                FeedEntry(
                    entry_id=f"urn:paper-digest:{delivery.pk}:{pick['arxiv_id']}",
                    title=paper.get("title", pick["arxiv_id"]),
                    url=paper.get("url", f"https://arxiv.org/abs/{pick['arxiv_id']}"),
                    summary=paper.get("summary", ""),
                    reason=pick.get("reason", ""),
                    authors=paper.get("authors", ""),
                    updated=delivery.sent_at,  # type: ignore[arg-type]
                )
            )
    return entries[:limit]
