"""Review and admin actions on runs: approve, cancel, preview, test copies, the daily chart."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from digest.emails import RenderedDigest, renderer_for
from digest.models import Delivery, DigestRun
from digest.services.common import RunStatus, Status, digest_run_refresh
from digest.services.send import digest_run_send


def digest_run_approve(*, run: DigestRun, user: str = "", inline: bool = False) -> DigestRun:
    """Approve a run awaiting review (or resume a paused one) and start sending."""
    updated = DigestRun.objects.filter(
        pk=run.pk, status__in=[RunStatus.AWAITING_REVIEW, RunStatus.PAUSED]
    ).update(status=RunStatus.APPROVED, approved_at=timezone.now(), approved_by=user[:150])
    if updated:
        digest_run_send(run=run, inline=inline)
    run.refresh_from_db()
    return run


def digest_run_cancel(*, run: DigestRun, user: str = "") -> DigestRun:
    DigestRun.objects.filter(pk=run.pk).exclude(status=RunStatus.DONE).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now(), note=f"Cancelled by {user}"
    )
    Delivery.objects.filter(run=run, status=Status.PLANNED).update(
        status=Status.SKIPPED, last_error="run cancelled"
    )
    return digest_run_refresh(run_id=run.pk)


def delivery_render(*, delivery: Delivery) -> RenderedDigest:
    """Exactly what this subscriber got (or will get): from the run's snapshot."""
    return renderer_for(delivery.run).render(
        delivery_id=delivery.pk, subscriber=delivery.subscriber, picks=delivery.picks
    )


def delivery_send_test_copy(*, delivery: Delivery, to: str) -> None:
    """A subscriber's email, sent to the admin; no state changes, no tracking metadata."""
    message = renderer_for(delivery.run).message(
        delivery_id=delivery.pk,
        message_id=f"<test.{delivery.pk}.{int(time.time())}@{_domain()}>",
        subscriber=delivery.subscriber,
        picks=delivery.picks,
    )
    message.to = [to]
    message.subject = f"[Test copy for {delivery.subscriber.email}] {message.subject}"
    message.metadata = {"test_copy": "1"}  # type: ignore[attr-defined]
    # The one-click unsubscribe headers carry the subscriber's signed link: the editor's
    # mail client would offer to unsubscribe the subscriber, not the editor.
    for header in ("List-Unsubscribe", "List-Unsubscribe-Post", "X-Digest-Delivery"):
        message.extra_headers.pop(header, None)
    message.send()


def _domain() -> str:
    from digest.emails import message_id_domain

    return message_id_domain()


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
    by_day = {row["sent_at__date"]: row for row in rows}
    empty = {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "bounced": 0}
    return [
        {
            "day": since + timedelta(days=i),
            **{k: by_day.get(since + timedelta(days=i), empty)[k] for k in empty},
        }
        for i in range(days)
    ]
