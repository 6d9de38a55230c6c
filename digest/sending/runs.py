"""Starting an edition's sending and sending again: chunks of planned deliveries queued.

(A run's life and statuses: digest/editions/runs.py.) Each chunk is a Celery task (digest.tasks.send_deliveries) or, inline, a call of
delivery_send_chunk in this process; the claims make a duplicated chunk harmless.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from digest.editions.runs import RunStatus, Status, batches, digest_run_refresh
from digest.models import Delivery, DigestRun
from digest.sending.sender import delivery_send_chunk


def digest_run_send(
    *,
    run: DigestRun,
    inline: bool = False,
    planned_since: datetime | None = None,
    subscriber_ids: Collection[int] | None = None,
) -> int:
    """Start (or continue) sending an approved run: chunks of planned deliveries.

    Queued as Celery tasks after the transaction commits, unless ``inline`` (the
    support command's default), which sends the chunks in this process. With
    ``planned_since`` (the beat tick), only deliveries planned since then: the run's
    earlier ones are already queued, and queueing them again would only duplicate work
    (a planned row whose task was lost is the sweeper's business). With
    ``subscriber_ids`` (a planning shard), only those readers' deliveries.
    """
    DigestRun.objects.filter(pk=run.pk, status__in=[RunStatus.APPROVED, RunStatus.DONE]).update(
        status=RunStatus.SENDING, sending_started_at=timezone.now()
    )
    run.refresh_from_db()
    if run.status != RunStatus.SENDING:
        return 0
    planned = Delivery.objects.filter(run=run, status=Status.PLANNED)
    if planned_since is not None:
        planned = planned.filter(created_at__gte=planned_since)
    if subscriber_ids is not None:
        ids = _of_readers(planned, set(subscriber_ids))
    else:
        ids = list(planned.order_by("pk").values_list("pk", flat=True))
    chunks = queue_chunks(ids, inline=inline)
    if not ids:
        digest_run_refresh(run_id=run.pk)
    return chunks


def _of_readers(planned: Any, readers: set[int]) -> list[int]:
    # The shard's id range, then its readers: no IN list of thousands of ids.
    if not readers:
        return []
    rows = planned.filter(subscriber_id__gte=min(readers), subscriber_id__lte=max(readers))
    return [
        pk
        for pk, subscriber_id in rows.order_by("pk").values_list("pk", "subscriber_id")
        if subscriber_id in readers
    ]


def queue_chunks(delivery_ids: Sequence[int], *, inline: bool = False) -> int:
    """Send ``delivery_ids`` in chunks of DIGEST_SEND_CHUNK_SIZE; how many chunks."""
    chunks = [list(chunk) for chunk in batches(delivery_ids, settings.DIGEST_SEND_CHUNK_SIZE)]
    for chunk in chunks:
        if inline:
            delivery_send_chunk(delivery_ids=chunk)
        else:
            _enqueue(chunk)
    return len(chunks)


def _enqueue(delivery_ids: list[int]) -> None:
    from digest.tasks.send import send_deliveries  # the tasks import this package

    send_deliveries.delay_on_commit(delivery_ids)


def delivery_resend(*, delivery: Delivery, inline: bool = False) -> bool:
    """Send one delivery again (admin): back to planned and queued; never while sending."""
    return _requeue(Delivery.objects.filter(pk=delivery.pk), run_id=delivery.run_id, inline=inline)


def digest_run_resend_failed(*, run: DigestRun, inline: bool = False) -> int:
    """Queue a run's failed deliveries again; a paused run sends them when resumed."""
    ids = list(Delivery.objects.filter(run=run, status=Status.FAILED).values_list("pk", flat=True))
    if not _requeue(Delivery.objects.filter(pk__in=ids), run_id=run.pk, inline=inline):
        return 0
    return len(ids)


def _requeue(deliveries: Any, *, run_id: int, inline: bool) -> bool:
    # A cancelled run never sends again: its requeued rows would wait for ever.
    if DigestRun.objects.filter(pk=run_id, status=RunStatus.CANCELLED).exists():
        return False
    ids = list(deliveries.exclude(status=Status.SENDING).values_list("pk", flat=True))
    if not ids:
        return False
    Delivery.objects.filter(pk__in=ids).update(status=Status.PLANNED, needs_reconciliation=False)
    DigestRun.objects.filter(pk=run_id, status__in=[RunStatus.DONE, RunStatus.APPROVED]).update(
        status=RunStatus.SENDING
    )
    queue_chunks(ids, inline=inline)
    return True
