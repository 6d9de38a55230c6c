"""The sweeper: what dead workers left behind, found and sent again (or handed over).

A worker killed mid-send leaves at most the one row it was sending in "sending"; the
sweeper finds such rows after DIGEST_SENDING_TIMEOUT_MINUTES and flags them for
reconciliation. A row marked handed over (``sent_at`` set: its message's last byte had
left, marks.py) is counted as sent: the server has it, and sending it again would be a
duplicate. Any other is re-queued with the SAME Message-ID (DIGEST_RECONCILE_RESEND,
on by default: a duplicate is possible for that message only, and mailbox providers
that de-duplicate on Message-ID drop it) or marked failed for the admin to decide
(setting off). Planned rows whose chunk task died with its worker are queued again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from digest.editions.runs import RunStatus, Status, digest_run_recount_dirty, digest_run_refresh
from digest.models import Delivery, DigestRun
from digest.sending.runs import queue_chunks

LOST_NOTE = "worker lost while sending; Message-ID kept so the ESP/admin can tell if it left"
# Over SMTP: between the final "." and the next claim (which records "sent"), whether or
# not the server's reply had been read.
HANDED_OVER_NOTE = (
    "worker lost after the whole message had left, before it was recorded as sent:"
    " counted as sent, not resent; Message-ID kept so the ESP/admin can check"
)


def delivery_sweep_stuck(*, now: datetime | None = None, timeout: timedelta | None = None) -> int:
    """Reconcile deliveries left in "sending" by a dead worker; re-queue orphaned chunks."""
    now = now or timezone.now()
    timeout = timeout if timeout is not None else _sending_timeout()
    cutoff = now - timeout
    stuck = Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
    handed_over = stuck.exclude(sent_at=None).update(
        status=Status.SENT, needs_reconciliation=True, last_error=HANDED_OVER_NOTE
    )
    status = Status.PLANNED if settings.DIGEST_RECONCILE_RESEND else Status.FAILED
    lost = stuck.filter(sent_at=None).update(
        status=status, needs_reconciliation=True, last_error=LOST_NOTE
    )
    for run in DigestRun.objects.filter(status=RunStatus.SENDING):
        _requeue_orphans(run, cutoff=cutoff)
    digest_run_recount_dirty()
    return handed_over + lost


def _sending_timeout() -> timedelta:
    return timedelta(minutes=settings.DIGEST_SENDING_TIMEOUT_MINUTES)


def _requeue_orphans(run: DigestRun, *, cutoff: datetime) -> None:
    # Planned rows with no claim in the run for a whole timeout: their chunk task died
    # with its worker (Redis only re-delivers after the visibility timeout). Duplicate
    # chunk tasks are harmless: claims decide.
    recent_claims = Delivery.objects.filter(run=run, claimed_at__gte=cutoff).exists()
    started = run.sending_started_at or run.created_at
    if recent_claims or started >= cutoff:
        return
    ids = list(
        Delivery.objects.filter(run=run, status=Status.PLANNED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    queue_chunks(ids)
    if not ids:
        digest_run_refresh(run_id=run.pk)
