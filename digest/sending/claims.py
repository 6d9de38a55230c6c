"""Claiming a delivery (planned -> sending) right before its email goes, and marking it sent.

A claim is a conditional UPDATE: only a planned row of an active subscriber in a
sendable run, so of two workers racing for one delivery exactly one sends it. The
Message-ID is fixed at claim time, so a lost send can be reconciled, and ``sent_at`` is
cleared: over SMTP it marks the message handed over (marks.py), so a resent delivery
must not keep its last attempt's. A claim can carry the previous email's mark-sent in
its own commit (``mark_sent``: PostgreSQL: one prepared UPDATE with a data-modifying
CTE; elsewhere: both UPDATEs in one transaction): the sender does so for an email
already marked handed over, which a kill in between no longer turns into a resend.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from digest.editions.runs import Status
from digest.emails.digest import message_id_for
from digest.models import Delivery, DigestRun
from subscriptions.models import Subscriber

CLAIM_PREPARE_THRESHOLD = 5  # psycopg's default

# An email that left, with the message it was sent as (the ESP's id is on it).
Sent = tuple[Delivery, Any]


def delivery_claim(*, delivery: Delivery, mark_sent: Sent | None = None) -> bool:
    """planned -> sending, only for an active subscriber in a sendable run.

    The WHERE is evaluated on the row itself, so of two workers racing for the same
    delivery exactly one updates it (PostgreSQL re-checks the condition after the lock).
    ``mark_sent``, the email this worker sent just before, is marked sent in the same
    transaction: one synchronous commit per email instead of two.
    """
    now = timezone.now()
    message_id = message_id_for(run_id=delivery.run_id, delivery_id=delivery.pk)
    if connection.vendor == "postgresql":
        claimed = _claim_sql(delivery.pk, now, message_id, mark_sent)
    else:
        claimed = _claim_orm(delivery.pk, now, message_id, mark_sent)
    delivery.message_id = message_id
    return claimed == 1


def delivery_mark_sent(delivery: Delivery, message: Any) -> None:
    """sending -> sent, with the ESP's message id (or our Message-ID)."""
    Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        status=Status.SENT,
        esp_message_id=esp_message_id(delivery, message),
        # A handed-over delivery keeps the time its last byte left (marks.py).
        sent_at=Coalesce("sent_at", Value(timezone.now(), output_field=DateTimeField())),
    )


def delivery_skip_if_unsendable(delivery: Delivery) -> int:
    """After a failed claim: skip the delivery if its subscriber left (1), else 0.

    Someone else has it, or the run stopped: only a subscriber who left is final.
    """
    return (
        Delivery.objects.filter(pk=delivery.pk, status=Status.PLANNED)
        .exclude(Exists(_active_subscriber_ref()))
        .update(status=Status.SKIPPED, last_error="unsubscribed or suppressed before sending")
    )


def _claim_orm(pk: int, now: datetime, message_id: str, mark_sent: Sent | None) -> int:
    claim = Delivery.objects.filter(pk=pk, status=Status.PLANNED).filter(
        Exists(_active_subscriber_ref()), Exists(_sendable_run_ref())
    )
    fields = {
        "status": Status.SENDING,
        "claimed_at": now,
        "attempts": F("attempts") + 1,
        "message_id": message_id,
        "last_error": "",
        "sent_at": None,
    }
    if mark_sent is None:
        return claim.update(**fields)
    try:
        with transaction.atomic():
            delivery_mark_sent(*mark_sent)
            return claim.update(**fields)
    except Exception:
        delivery_mark_sent(*mark_sent)  # the claim failed: don't let the sent email go with it
        raise


def _claim_sql(pk: int, now: datetime, message_id: str, mark_sent: Sent | None) -> int:
    """The same claim (and mark-sent) as _claim_orm, as one prepared PostgreSQL statement.

    One round trip, no ORM query building and no re-planning on the hot path; a
    data-modifying CTE runs to completion whether or not the claim matches, in the same
    transaction (autocommit: one commit).
    """
    params: list[Any] = [now, str(message_id), pk]
    if mark_sent is not None:
        params = [now, str(esp_message_id(*mark_sent)), mark_sent[0].pk, *params]
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
            delivery_mark_sent(*mark_sent)  # the claim failed: don't let the sent email go with it
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
            attempts = d.attempts + 1, message_id = %s, last_error = '', sent_at = NULL
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
                          sent_at = COALESCE(sent_at, %s), esp_message_id = %s
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


def esp_message_id(delivery: Delivery, message: Any) -> str:
    status = getattr(message, "anymail_status", None)
    esp_id = (getattr(status, "message_id", None) if status else None) or delivery.message_id
    return str(esp_id)[:255]
