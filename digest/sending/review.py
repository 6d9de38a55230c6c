"""Review and admin actions on runs: approve (starts sending), cancel, test copies."""

from __future__ import annotations

import time

from django.utils import timezone

from digest.editions.runs import RunStatus, Status, digest_run_refresh
from digest.emails import message_id_domain, renderer_for
from digest.models import Delivery, DigestRun
from digest.sending.runs import digest_run_send


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


def delivery_send_test_copy(*, delivery: Delivery, to: str) -> None:
    """A subscriber's email, sent to the admin; no state changes, no tracking metadata."""
    message = renderer_for(delivery.run).message(
        delivery_id=delivery.pk,
        message_id=f"<test.{delivery.pk}.{int(time.time())}@{message_id_domain()}>",
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
