"""The sender loop: a chunk's planned deliveries, each claimed and sent exactly once.

Exactly once. Each email is a Delivery row, unique per (run, subscriber). A delivery is
claimed (claims.py) right before its email is handed to the transport, with a
Message-ID fixed at claim time. Over SMTP it is marked handed over as soon as its last
byte is out, before the server's reply is read; otherwise it is marked sent as soon as
the server has accepted it (marks.py; asynchronous commits: no WAL-flush wait). A
retried or duplicated chunk task finds nothing planned and sends nothing, and a worker
killed mid-send leaves at most one email in "sending", for the sweeper (sweeper.py):
counted as sent if it was handed over, else resent (a duplicate only if the server had
it: an ESP's HTTP API, whose one round trip has no hand-over to record).

The loop is the same for every email backend: the Transport (transport.py), chosen once
per chunk from the settings, opens one connection for the chunk and decides how a
claimed message goes out. Its verdict is read before anything else happens (the next
email's throttle wait or rendering).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone

from digest.editions import scheduling
from digest.editions.runs import Status, digest_run_recount_soon
from digest.emails.digest import RunRenderer, cached_renderer, message_id_for, renderer_for
from digest.models import Delivery, DigestRun
from digest.sending.claims import Sent, delivery_claim, delivery_skip_if_unsendable
from digest.sending.marks import delivery_mark_handed_over, delivery_mark_sent_now
from digest.sending.throttle import throttle
from digest.sending.transport import Transport, transport_for_settings

logger = logging.getLogger(__name__)
# What sending reads of a subscriber: the address, the links' token version, the pause.
SUBSCRIBER_FIELDS = ("email", "token_version", "paused_until", "timezone")


@dataclass
class ChunkResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    run_ids: set[int] = field(default_factory=set)


def delivery_send_chunk(
    *, delivery_ids: Sequence[int], transport: Transport | None = None
) -> ChunkResult:
    """Send the planned deliveries among ``delivery_ids``, each at most once.

    Safe to run twice, or in two workers at once: only a successful claim sends. One
    transport (one email connection) serves the whole chunk; by default the settings'.
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
    _Sender(result, transport or transport_for_settings()).send_all(deliveries)
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
    """Deliveries in order through one transport, each claimed as it is handed over.

    Each email's fate is recorded before the next one is throttled, rendered or
    claimed. Over SMTP the record that it left (handed over, marks.py) is written as
    soon as its final "." is out, before the server's reply is read, and "sent" rides
    the next claim; otherwise it is marked sent as soon as the transport has the
    server's verdict. A worker killed at any moment leaves for the sweeper at most one
    message: one that did not leave (resent), or one handed over (counted as sent); only
    without the hand-over (an ESP's HTTP API) is a kill in the reply's round trip a
    duplicate.
    """

    def __init__(self, result: ChunkResult, transport: Transport) -> None:
        self.result = result
        self.transport = transport
        # Handed over and accepted, "sent" not recorded yet: the next claim carries it.
        self.accepted: Sent | None = None

    def send_all(self, deliveries: Sequence[Delivery]) -> None:
        _open(self.transport)  # once: Django's SMTP backend would reconnect per email
        _fast_commits(True)
        try:
            for delivery in deliveries:
                self.send(delivery)
        finally:
            try:
                self._mark_accepted()
                self.transport.close()
            finally:
                _fast_commits(False)

    def send(self, delivery: Delivery) -> None:
        self.result.run_ids.add(delivery.run_id)
        throttle()
        try:
            message, error = _render(delivery), None
        except Exception as exc:  # claimed all the same, and recorded as its failure
            message, error = None, exc
        claimed = False

        def claim() -> bool:
            nonlocal claimed
            accepted, self.accepted = self.accepted, None
            claimed = delivery_claim(delivery=delivery, mark_sent=accepted)
            return claimed

        try:
            if message is not None:
                went = self.transport.send(message, claim)
            elif went := claim():
                assert error is not None
                raise error
        except Exception as exc:
            if not claimed:
                raise  # the claim itself failed (database): the task retries
            self._fail(delivery, exc)
            return
        if not went:
            self.result.skipped += delivery_skip_if_unsendable(delivery)
            return
        self._settle(delivery, message)

    def _settle(self, delivery: Delivery, message: Any) -> None:
        """The transport's verdict on the email just sent, recorded at once."""
        refusal: Exception | None = None
        read = handed_over = False

        def read_verdict() -> None:
            nonlocal refusal, read
            read = True
            try:
                self.transport.settle()
            except Exception as exc:
                refusal = exc

        if self.transport.awaiting_verdict:
            try:
                delivery_mark_handed_over(delivery, message, meanwhile=read_verdict)
                handed_over = True
            except Exception as exc:  # unmarked: a kill now means a resend, as before
                logger.warning("delivery %s: recording the hand-over failed: %s", delivery.pk, exc)
        if not read:
            read_verdict()
        if refusal is not None:
            self._fail(delivery, refusal)
            return
        if handed_over:
            self.accepted = (delivery, message)
        else:
            delivery_mark_sent_now(delivery, message)
        self.result.sent += 1

    def _mark_accepted(self) -> None:
        """The chunk's last accepted email, which no next claim carries: "sent" now."""
        accepted, self.accepted = self.accepted, None
        if accepted is None:
            return
        try:
            delivery_mark_sent_now(*accepted)
        except Exception as exc:  # handed over: the sweeper counts it as sent, never resends
            logger.warning("delivery %s: marking it sent failed: %s", accepted[0].pk, exc)

    def _fail(self, delivery: Delivery, exc: Exception) -> None:
        logger.warning("delivery %s failed: %s", delivery.pk, exc)
        Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
            status=Status.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:2000], sent_at=None
        )
        self.result.failed += 1
        _reopen(self.transport)  # a broken session fails every later message


def _open(transport: Transport) -> None:
    try:
        transport.open()
    except Exception as exc:  # each send will try again and record its own error
        logger.warning("opening the email connection failed: %s", exc)


def _reopen(transport: Transport) -> None:
    try:
        transport.close()
    except Exception:
        logger.debug("closing a broken connection failed", exc_info=True)
    _open(transport)


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


def _render(delivery: Delivery) -> Any:
    return delivery.renderer.message(  # type: ignore[attr-defined]  # set per chunk
        delivery_id=delivery.pk,
        message_id=message_id_for(run_id=delivery.run_id, delivery_id=delivery.pk),
        subscriber=delivery.subscriber,
        picks=delivery.picks,
    )
