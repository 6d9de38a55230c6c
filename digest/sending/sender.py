"""Send a run's emails, each exactly once; sweep what dead workers left.

The life of an edition (DigestRun, one per date and frequency):
building -> (awaiting_review -> approved, when DIGEST_REQUIRE_APPROVAL) -> sending -> done,
or cancelled; a run whose error rate passes DIGEST_MAX_ERROR_RATE pauses itself.

Exactly once. Each email is a Delivery row, unique per (run, subscriber), so planning
twice plans nothing new. A delivery is claimed with a conditional UPDATE (planned ->
sending, only while the subscriber is active and the run is sendable) right before its
email is sent, with a Message-ID fixed at claim time; after the send it is marked sent
with the ESP's message id. A retried or duplicated chunk task finds nothing planned and
sends nothing. A worker killed mid-send leaves at most the one row it was sending in
"sending"; the sweeper finds such rows after DIGEST_SENDING_TIMEOUT_MINUTES and, unless
an ESP event has already told us what happened, flags them for reconciliation and
re-queues them with the SAME Message-ID (DIGEST_RECONCILE_RESEND, on by default: a
duplicate is possible for that message only, and mailbox providers that de-duplicate on
Message-ID drop it) or marks them failed for the admin to decide (setting off).

Cost per email (the hot path): one synchronous commit, not two. The email sent just
before is marked sent in the same statement that claims the next one (PostgreSQL: one
prepared UPDATE with a data-modifying CTE; elsewhere: both UPDATEs in one transaction).
Until that commit the previous email stays "sending", exactly what a worker killed
right after a send leaves anyway, so a killed worker still leaves at most one email in
flight. The chunk's last email is marked sent on its own. The SMTP connection is opened
once per chunk; the rate limiter reserves tokens from Redis in blocks.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.expressions import RawSQL
from django.utils import timezone

from digest.editions import scheduling
from digest.editions.runs import (
    RunStatus,
    Status,
    batches,
    digest_run_recount_dirty,
    digest_run_recount_soon,
    digest_run_refresh,
)
from digest.emails.digest import RunRenderer, cached_renderer, message_id_for, renderer_for
from digest.models import Delivery, DigestRun
from digest.sending import smtp as smtp_overlap
from subscriptions.models import Subscriber

logger = logging.getLogger(__name__)
RATE_BLOCK_MAX = 20  # tokens a worker reserves per cache round trip, at most
CLAIM_PREPARE_THRESHOLD = 5  # psycopg's default
# What sending reads of a subscriber: the address, the links' token version, the pause.
SUBSCRIBER_FIELDS = ("email", "token_version", "paused_until", "timezone")


# An email that left, with the message it was sent as (the ESP's id is on it).
_Sent = tuple[Delivery, Any]


@dataclass
class ChunkResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    run_ids: set[int] = field(default_factory=set)


def digest_run_send(
    *, run: DigestRun, inline: bool = False, planned_since: datetime | None = None
) -> int:
    """Start (or continue) sending an approved run: chunks of planned deliveries.

    Queued as Celery tasks after the transaction commits, unless ``inline`` (the
    support command's default), which sends the chunks in this process. With
    ``planned_since`` (the beat tick), only deliveries planned since then: the run's
    earlier ones are already queued, and queueing them again would only duplicate work
    (a planned row whose task was lost is the sweeper's business).
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
    ids = list(planned.order_by("pk").values_list("pk", flat=True))
    chunks = list(batches(ids, settings.DIGEST_SEND_CHUNK_SIZE))
    for chunk in chunks:
        if inline:
            delivery_send_chunk(delivery_ids=list(chunk))
        else:
            _enqueue(list(chunk))
    if not ids:
        digest_run_refresh(run_id=run.pk)
    return len(chunks)


def _enqueue(delivery_ids: list[int]) -> None:
    from digest.tasks.send import send_deliveries

    send_deliveries.delay_on_commit(delivery_ids)


def delivery_send_chunk(*, delivery_ids: Sequence[int]) -> ChunkResult:
    """Send the planned deliveries among ``delivery_ids``, each at most once.

    Safe to run twice, or in two workers at once: only a successful claim sends.
    One email connection is reused for the whole chunk.
    """
    result = ChunkResult()
    deliveries = list(
        Delivery.objects.filter(pk__in=delivery_ids, status=Status.PLANNED)
        .select_related("subscriber")
        .only("run_id", "picks", *(f"subscriber__{field}" for field in SUBSCRIBER_FIELDS))
        .order_by("pk")
    )
    deliveries = _skip_paused(deliveries, result)
    if not deliveries:
        return result
    renderers = _renderers_for({d.run_id for d in deliveries})
    for delivery in deliveries:
        delivery.renderer = renderers[delivery.run_id]  # type: ignore[attr-defined]
    _Sender(result).send_all(deliveries)
    for run_id in result.run_ids:
        _recount_after_chunk(run_id, failed=result.failed > 0)
    return result


def _recount_after_chunk(run_id: int, *, failed: bool) -> None:
    # At once when the run may be finished (nothing left to claim: it goes "done") or
    # sends failed (it may have to pause); otherwise throttled, for the admin's progress.
    unfinished = Delivery.objects.filter(
        run_id=run_id, status__in=[Status.PLANNED, Status.SENDING]
    ).exists()
    digest_run_recount_soon(run_id=run_id, now=failed or not unfinished)


def _skip_paused(deliveries: list[Delivery], result: ChunkResult) -> list[Delivery]:
    """Drop the deliveries of subscribers who paused after the run was planned.

    Checked when the chunk starts (seconds before its sends), on the subscriber's local
    date as the scheduler does; leaving is enforced by the claim itself.
    """
    now = timezone.now()
    paused = {
        d.pk
        for d in deliveries
        if scheduling.is_paused(d.subscriber, scheduling.local_time(d.subscriber, now).date())
    }
    if not paused:
        return deliveries
    result.skipped += Delivery.objects.filter(pk__in=paused, status=Status.PLANNED).update(
        status=Status.SKIPPED, last_error="paused before sending"
    )
    result.run_ids.update(d.run_id for d in deliveries if d.pk in paused)
    return [d for d in deliveries if d.pk not in paused]


def _open(mail: Any) -> None:
    # Opened here, or Django's SMTP backend would connect and quit around every email.
    try:
        mail.open()
    except Exception as exc:  # each send will try again and record its own error
        logger.warning("opening the email connection failed: %s", exc)


def _fast_commits(on: bool) -> None:
    """Two commits per email (claim, sent) would each wait for a WAL flush on PostgreSQL.

    With DIGEST_SEND_ASYNC_COMMIT (off by default) the sending session does not wait: a
    worker crash loses nothing (the commit is in PostgreSQL's memory); only a crash of
    the database server itself could forget the last fraction of a second of claims,
    which the sweeper would then treat like a dead worker's (same Message-ID resent).
    """
    if connection.vendor != "postgresql" or not settings.DIGEST_SEND_ASYNC_COMMIT:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO " + ("OFF" if on else "DEFAULT"))


class _Sender:
    """One email connection sending deliveries in order, each claimed right before it goes.

    With Django's SMTP backend (smtp_overlap) an email's claim commits while its bytes
    go out, and the next email is rendered while the server still reads this one; its
    reply is read just before the next claim, which also marks this one sent. So at
    most one email of a chunk is ever between "the server has it" and "marked sent".
    Other backends (anymail's ESPs, the outbox) send after the claim, one at a time.
    """

    def __init__(self, result: ChunkResult) -> None:
        self.result = result
        self.mail: Any = None
        self.sent: _Sent | None = None  # left, to be marked sent with the next claim
        self.pending: tuple[Delivery, Any, smtp_overlap.PendingReply] | None = None

    def send_all(self, deliveries: Sequence[Delivery]) -> None:
        self.mail = get_connection()
        _open(self.mail)
        _fast_commits(True)
        try:
            for delivery in deliveries:
                self.send(delivery)
        finally:
            try:
                self._settle()
                if self.sent is not None:  # the chunk's last email: nothing to claim with it
                    _mark_sent(*self.sent)
            finally:
                self.mail.close()
                _fast_commits(False)

    def send(self, delivery: Delivery) -> None:
        self.result.run_ids.add(delivery.run_id)
        _throttle()
        mail = self.mail
        # Rendered while the server still reads the previous email, then its verdict.
        message = _render_or_none(delivery, mail) if smtp_overlap.supports(mail) else None
        self._settle()
        if message is not None and smtp_overlap.supports(mail):  # (a failure reconnects)
            self._start(delivery, message)
            return
        previous, self.sent = self.sent, None
        if not delivery_claim(delivery=delivery, mark_sent=previous):
            self.result.skipped += _skip_if_unsendable(delivery)
            return
        try:
            message = _render(delivery, mail)
            message.send()
        except Exception as exc:  # any ESP/SMTP error: record it, go on with the chunk
            _record_failure(delivery, exc, self.result, mail)
            return
        self.result.sent += 1
        self.sent = delivery, message

    def _start(self, delivery: Delivery, message: Any) -> None:
        previous, self.sent = self.sent, None
        claimed = False

        def claim() -> bool:
            nonlocal claimed
            claimed = delivery_claim(delivery=delivery, mark_sent=previous)
            return claimed

        try:
            reply = smtp_overlap.send_when_claimed(self.mail, message, claim)
        except smtp_overlap.ClaimLost:
            self.result.skipped += _skip_if_unsendable(delivery)
            return
        except Exception as exc:
            if not claimed:
                raise  # the claim itself failed (database): the task retries
            _record_failure(delivery, exc, self.result, self.mail)
            return
        self.pending = delivery, message, reply

    def _settle(self) -> None:
        """Read the server's verdict on the email whose "." went out last."""
        if self.pending is None:
            return
        delivery, message, reply = self.pending
        self.pending = None
        try:
            reply.wait()
        except Exception as exc:
            _record_failure(delivery, exc, self.result, self.mail)
            return
        self.result.sent += 1
        self.sent = delivery, message


def _renderers_for(run_ids: set[int]) -> dict[int, RunRenderer]:
    """Each run's renderer; its papers snapshot (~400 KB of JSON for 300 papers) is read
    and decoded only when this process has no renderer for it yet, not once per chunk."""
    counts = DigestRun.objects.filter(pk__in=run_ids).annotate(n=_paper_count())
    renderers = {}
    for run_id, n in counts.values_list("pk", "n"):
        if (renderer := cached_renderer(run_id, n)) is not None:
            renderers[run_id] = renderer
    for run in DigestRun.objects.filter(pk__in=run_ids - renderers.keys()):
        renderers[run.pk] = renderer_for(run)
    return renderers


def _paper_count() -> RawSQL:
    keys = "jsonb_object_keys" if connection.vendor == "postgresql" else "json_each"
    table = DigestRun._meta.db_table
    return RawSQL(f"(SELECT count(*) FROM {keys}({table}.papers))", [])


def _render(delivery: Delivery, connection: Any) -> Any:
    return delivery.renderer.message(  # type: ignore[attr-defined]  # set per chunk
        delivery_id=delivery.pk,
        message_id=message_id_for(run_id=delivery.run_id, delivery_id=delivery.pk),
        subscriber=delivery.subscriber,
        picks=delivery.picks,
        connection=connection,
    )


def _render_or_none(delivery: Delivery, connection: Any) -> Any:
    try:
        return _render(delivery, connection)
    except Exception:  # claimed first and recorded as failed by the usual path
        return None


def _record_failure(delivery: Delivery, exc: Exception, result: ChunkResult, mail: Any) -> None:
    logger.warning("delivery %s failed: %s", delivery.pk, exc)
    Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        status=Status.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:2000]
    )
    result.failed += 1
    _reset_connection(mail)


def delivery_claim(*, delivery: Delivery, mark_sent: _Sent | None = None) -> bool:
    """planned -> sending, only for an active subscriber in a sendable run.

    The WHERE is evaluated on the row itself, so of two workers racing for the same
    delivery exactly one updates it (PostgreSQL re-checks the condition after the lock).
    ``mark_sent``, the email this worker sent just before, is marked sent in the same
    transaction: one synchronous commit per email instead of two. Until that commit
    the sent email is still "sending", which is what a worker killed right after a
    send leaves behind anyway (the sweeper's case), so nothing new can be in flight.
    """
    now = timezone.now()
    message_id = message_id_for(run_id=delivery.run_id, delivery_id=delivery.pk)
    if connection.vendor == "postgresql":
        claimed = _claim_sql(delivery.pk, now, message_id, mark_sent)
    else:
        claimed = _claim_orm(delivery.pk, now, message_id, mark_sent)
    delivery.message_id = message_id
    return claimed == 1


def _claim_orm(pk: int, now: datetime, message_id: str, mark_sent: _Sent | None) -> int:
    claim = Delivery.objects.filter(pk=pk, status=Status.PLANNED).filter(
        Exists(_active_subscriber_ref()), Exists(_sendable_run_ref())
    )
    fields = {
        "status": Status.SENDING,
        "claimed_at": now,
        "attempts": F("attempts") + 1,
        "message_id": message_id,
        "last_error": "",
    }
    if mark_sent is None:
        return claim.update(**fields)
    try:
        with transaction.atomic():
            _mark_sent(*mark_sent)
            return claim.update(**fields)
    except Exception:
        _mark_sent(*mark_sent)  # the claim failed: don't let the sent email go with it
        raise


def _claim_sql(pk: int, now: datetime, message_id: str, mark_sent: _Sent | None) -> int:
    """The same claim (and mark-sent) as _claim_orm, as one prepared PostgreSQL statement.

    One round trip, no ORM query building and no re-planning on the hot path; a
    data-modifying CTE runs to completion whether or not the claim matches, in the same
    transaction (autocommit: one commit).
    """
    params: list[Any] = [now, str(message_id), pk]
    if mark_sent is not None:
        params = [now, str(_esp_message_id(*mark_sent)), mark_sent[0].pk, *params]
    try:
        connection.ensure_connection()
        raw = connection.connection
        if raw.prepare_threshold is None:
            # Django opens psycopg connections with prepared statements off, and then
            # psycopg ignores prepare=True: PostgreSQL would parse and plan the claim
            # for every email (measured: twice the database CPU per claim). Only
            # server-side-binding cursors like this one prepare; Django's own cursors
            # bind client-side and are unaffected.
            raw.prepare_threshold = CLAIM_PREPARE_THRESHOLD
        # Server-side binding, so PostgreSQL keeps the plan; Django's errors, for the
        # task's retry.
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            sql = _claim_statement(mark_sent=mark_sent is not None)
            cursor.execute(sql, params, prepare=True)
            return cursor.rowcount
    except Exception:
        if mark_sent is not None:
            _mark_sent(*mark_sent)  # the claim failed: don't let the sent email go with it
        raise


@functools.cache
def _claim_statement(*, mark_sent: bool = False) -> str:
    """The claim's SQL; its parameters are (now, message_id, pk), after (now, esp_id, pk).

    The statuses are code constants written into the text, so each execution binds
    only what changes per email.
    """
    deliveries = Delivery._meta.db_table
    sendable = ", ".join(_literal(status) for status in DigestRun.SENDABLE_STATUSES)
    claim = f"""
        UPDATE {deliveries} AS d SET status = {_literal(Status.SENDING)}, claimed_at = %s,
            attempts = d.attempts + 1, message_id = %s, last_error = ''
        WHERE d.id = %s AND d.status = {_literal(Status.PLANNED)}
        -- Subscriber.objects.sendable(), spelled out for the prepared statement:
        AND EXISTS (SELECT 1 FROM {Subscriber._meta.db_table} AS s WHERE s.id = d.subscriber_id
                    AND s.status = {_literal(Subscriber.Status.ACTIVE)} AND s.deleted_at IS NULL)
        AND EXISTS (SELECT 1 FROM {DigestRun._meta.db_table} AS r WHERE r.id = d.run_id
                    AND r.status IN ({sendable}))"""
    if not mark_sent:
        return claim
    return f"""
        WITH sent AS (UPDATE {deliveries} SET status = {_literal(Status.SENT)},
                          sent_at = %s, esp_message_id = %s
                      WHERE id = %s AND status = {_literal(Status.SENDING)})
        {claim}"""


def _literal(value: str) -> str:
    if not re.fullmatch(r"[a-z_]+", value):  # choices only: never anything from outside
        raise ValueError(f"not a status: {value!r}")
    return f"'{value}'"


def _active_subscriber_ref() -> Any:
    return Subscriber.objects.sendable().filter(pk=OuterRef("subscriber_id"))


def _sendable_run_ref() -> Any:
    return DigestRun.objects.filter(pk=OuterRef("run_id"), status__in=DigestRun.SENDABLE_STATUSES)


def _skip_if_unsendable(delivery: Delivery) -> int:
    # The claim failed: someone else has it, the run stopped, or the subscriber left.
    # Only the last is final for this delivery.
    return (
        Delivery.objects.filter(pk=delivery.pk, status=Status.PLANNED)
        .exclude(Exists(_active_subscriber_ref()))
        .update(status=Status.SKIPPED, last_error="unsubscribed or suppressed before sending")
    )


def _mark_sent(delivery: Delivery, message: Any) -> None:
    Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        status=Status.SENT,
        esp_message_id=_esp_message_id(delivery, message),
        sent_at=timezone.now(),
    )


def _esp_message_id(delivery: Delivery, message: Any) -> str:
    status = getattr(message, "anymail_status", None)
    esp_id = (getattr(status, "message_id", None) if status else None) or delivery.message_id
    return str(esp_id)[:255]


def _reset_connection(connection: Any) -> None:
    # A broken SMTP session fails every later message; start a fresh one.
    try:
        connection.close()
    except Exception:
        logger.debug("closing a broken connection failed", exc_info=True)
    _open(connection)


@dataclass
class _Tokens:
    window: tuple[float, int] = (0.0, -1)  # (window length, window number)
    left: int = 0


_tokens = _Tokens()
_tokens_lock = threading.Lock()


def _throttle() -> None:
    """Global send rate shared by all workers: a fixed-window counter in the cache.

    Each worker reserves tokens in blocks (one INCRBY per block, not per email); the
    counter still never passes the window's allowance, and a block's unused tokens
    expire with its window, so the limit holds for all workers together.
    """
    rate = settings.DIGEST_SEND_RATE_PER_SECOND
    if rate <= 0:
        return
    window = max(1.0, 1.0 / rate)
    allowed = max(1, int(rate * window))
    # A small share of the window, so one worker can't hoard what another could send.
    block = max(1, min(RATE_BLOCK_MAX, allowed // 20))
    while True:
        now = time.time()
        slot = int(now / window)
        with _tokens_lock:  # threads of one process (Celery's threads pool) share them
            if _tokens.window == (window, slot) and _tokens.left > 0:
                _tokens.left -= 1
                return
        key = f"digest:send-rate:{slot}"
        cache.add(key, 0, timeout=int(window) + 5)
        try:
            total = cache.incr(key, block)
        except ValueError:  # expired between add and incr
            continue
        granted = min(block, allowed - (total - block))
        if granted > 0:
            with _tokens_lock:
                _tokens.window, _tokens.left = (window, slot), granted - 1
            return
        time.sleep(max(0.0, (slot + 1) * window - now))


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
    for chunk in batches(ids, settings.DIGEST_SEND_CHUNK_SIZE):
        if inline:
            delivery_send_chunk(delivery_ids=list(chunk))
        else:
            _enqueue(list(chunk))
    return True


# --- Sweeper ------------------------------------------------------------------------


def delivery_sweep_stuck(*, now: datetime | None = None, timeout: timedelta | None = None) -> int:
    """Reconcile deliveries left in "sending" by a dead worker; re-queue orphaned chunks."""
    now = now or timezone.now()
    timeout = timeout if timeout is not None else _sending_timeout()
    cutoff = now - timeout
    stuck = Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
    note = "worker lost while sending; Message-ID kept so the ESP/admin can tell if it left"
    if settings.DIGEST_RECONCILE_RESEND:
        swept = stuck.update(status=Status.PLANNED, needs_reconciliation=True, last_error=note)
    else:
        swept = stuck.update(status=Status.FAILED, needs_reconciliation=True, last_error=note)
    for run in DigestRun.objects.filter(status=RunStatus.SENDING):
        _requeue_orphans(run, cutoff=cutoff)
    digest_run_recount_dirty()
    return swept


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
    for chunk in batches(ids, settings.DIGEST_SEND_CHUNK_SIZE):
        _enqueue(list(chunk))
    if not ids:
        digest_run_refresh(run_id=run.pk)
