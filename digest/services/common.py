"""What the digest-run services share: statuses, batching and the run's recount."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from digest.models import Delivery, DigestRun

Status = Delivery.Status
RunStatus = DigestRun.Status
# Runs whose planned deliveries may be claimed.
SENDABLE = (RunStatus.APPROVED, RunStatus.SENDING)
# Runs that still accept new subscribers for the edition.
OPEN = (RunStatus.BUILDING, RunStatus.AWAITING_REVIEW, *SENDABLE, RunStatus.PAUSED, RunStatus.DONE)
# Every status that means the message left us.
LEFT = (
    Status.SENT,
    Status.DELIVERED,
    Status.OPENED,
    Status.CLICKED,
    Status.BOUNCED,
    Status.COMPLAINED,
)
ERROR_RATE_MIN_SAMPLE = 20


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def digest_run_refresh(*, run_id: int) -> DigestRun:
    """Recount a run from its deliveries; finish it, or pause it on too many errors."""
    counts = dict(
        Delivery.objects.filter(run_id=run_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    n = lambda *statuses: sum(counts.get(s, 0) for s in statuses)  # noqa: E731
    values = {
        "planned_count": sum(counts.values()),
        "rendered_count": sum(counts.values()) - n(Status.PLANNED, Status.SKIPPED),
        "sent_count": n(*LEFT),
        "failed_count": n(Status.FAILED),
        "delivered_count": n(Status.DELIVERED, Status.OPENED, Status.CLICKED),
        "opened_count": n(Status.OPENED, Status.CLICKED),
        "clicked_count": n(Status.CLICKED),
        "bounced_count": n(Status.BOUNCED),
        "complained_count": n(Status.COMPLAINED),
        "skipped_count": n(Status.SKIPPED),
    }
    DigestRun.objects.filter(pk=run_id).update(**values)
    attempted = values["sent_count"] + values["failed_count"]
    if (
        attempted >= ERROR_RATE_MIN_SAMPLE
        and values["failed_count"] / attempted > settings.DIGEST_MAX_ERROR_RATE
    ):
        DigestRun.objects.filter(pk=run_id, status=RunStatus.SENDING).update(
            status=RunStatus.PAUSED,
            note=f"Paused: {values['failed_count']} of {attempted} sends failed.",
        )
    elif n(Status.PLANNED, Status.SENDING) == 0:
        DigestRun.objects.filter(pk=run_id, status=RunStatus.SENDING).update(
            status=RunStatus.DONE, finished_at=timezone.now()
        )
    return DigestRun.objects.get(pk=run_id)
