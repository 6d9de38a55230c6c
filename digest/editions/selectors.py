"""Read queries over editions and their deliveries (the web version and the feed)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

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


class RenderRow(NamedTuple):
    """What rendering a digest reads of its reader (the links sign pk and token_version)."""

    pk: int
    email: str
    token_version: int


def delivery_render_rows(
    *, run_id: int, first_id: int, last_id: int, readers: Collection[int] | None = None
) -> Iterator[tuple[int, RenderRow, list[dict[str, Any]]]]:
    """(delivery id, reader row, picks) of a run's readers in an id range, as rows.

    Building a Delivery and a Subscriber instance per email cost as much as rendering
    it; these rows are what the bulk renderer reads. ``readers`` narrows the range.
    In the order of the readers: the unique (run, subscriber) index's order, so a
    shard's 10,000 rows of picks are not sorted again (a sort that spilled to disk).
    """
    rows = (
        Delivery.objects.filter(
            run_id=run_id, subscriber_id__gte=first_id, subscriber_id__lte=last_id
        )
        .order_by("subscriber_id")
        .values_list(
            "pk", "picks", "subscriber_id", "subscriber__email", "subscriber__token_version"
        )
    )
    for pk, picks, subscriber_id, email, token_version in rows.iterator(chunk_size=2000):
        if readers is None or subscriber_id in readers:
            yield pk, RenderRow(subscriber_id, email, token_version), picks
