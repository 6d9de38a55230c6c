"""What the sender records once a message has left: handed over, then sent.

A worker can die at any moment. What it leaves in "sending" the sweeper (sweeper.py)
sends again, so the record that a message left must be written before the moment a
kill would make the resend a duplicate. That moment is the last byte of the message
(SMTP: the final "." of DATA) leaving the worker, not the server's reply: a killed
process's sockets are closed by the kernel, which still delivers the bytes already
written, and an SMTP server that has read the "." normally takes the message whether
or not the client is still there to read its reply (the duplicate RFC 1047 describes).

So over SMTP the sender marks a delivery *handed over* (``sent_at`` set, still
"sending") as soon as the "." is out, and only then reads the reply, while the mark is
on its way to the database. The sweeper counts a handed-over delivery as sent (flagged
for reconciliation) instead of sending it again; one without the mark (a kill before
the ".", or a mark that could not be written) is resent as before. A refusal read
after the mark fails the delivery as before. "sent" itself follows with the next claim
(claims.py), or at once for the chunk's last email.

An ESP's HTTP API (anymail) has no such moment: the request is one round trip, the
message may be accepted as soon as it has arrived, and the reply is all we get. There
the delivery is marked sent at once after the reply, as before: a kill in between can
still duplicate that one message.
"""

from __future__ import annotations

import functools
import select
from collections.abc import Callable
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone
from psycopg import pq

from digest.editions.runs import Status
from digest.models import Delivery
from digest.sending.claims import delivery_mark_sent, esp_message_id


def delivery_mark_handed_over(
    delivery: Delivery, message: Any, *, meanwhile: Callable[[], None]
) -> None:
    """Record that ``message`` has left in full; run ``meanwhile`` (the reply) before the
    database's answer is read.

    Call it only after the last byte is out: a kill after this call has written its
    statement can no longer turn into a resend. Raises a DatabaseError if the record
    failed (then nothing is recorded and a kill means a resend, as without the mark);
    ``meanwhile`` has run unless the record failed before it was sent.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
            sent_at=timezone.now(), esp_message_id=esp_message_id(delivery, message)
        )
        meanwhile()
        return
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:
        _send(raw.pgconn, _handed_over_query(int(delivery.pk)))
        try:
            meanwhile()
        finally:
            _read_results(raw)


def delivery_mark_sent_now(delivery: Delivery, message: Any) -> None:
    """Record that the server accepted ``message``, at once, in one round trip.

    Where no hand-over mark was written (an ESP's HTTP API, or the mark failed), the
    time between the server's reply and this commit is the only moment a kill turns
    into a duplicate.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        delivery_mark_sent(delivery, message)
        return
    params = [timezone.now(), esp_message_id(delivery, message), delivery.pk]
    _update_pipelined(_sent_statement(), params)


def _update_pipelined(statement: str, params: list[Any]) -> None:
    """One UPDATE in a transaction of its own that does not wait for the WAL flush.

    The transaction goes out as one pipeline (BEGIN, SET LOCAL, UPDATE, COMMIT: one
    network round trip, one wake-up of each side), with the statement prepared.
    Asynchronous commit: a killed worker loses nothing that way; only a crash of the
    database server could forget it (the sweeper would then resend that message with
    its Message-ID).
    """
    connection.ensure_connection()
    raw = connection.connection
    try:
        with connection.wrap_database_errors, raw.pipeline():
            raw.execute("BEGIN")
            raw.execute("SET LOCAL synchronous_commit TO OFF")
            raw.execute(statement, params, prepare=True)
            raw.execute("COMMIT")
    except Exception:
        if raw.info.transaction_status != pq.TransactionStatus.IDLE:
            raw.execute("ROLLBACK")  # leave the connection as Django expects it
        raise


def _handed_over_query(pk: int) -> bytes:
    """The hand-over as one simple-protocol message: BEGIN, SET LOCAL, UPDATE, COMMIT.

    One write to the socket right after the "." (the moment a kill stops mattering),
    one answer. Its only value is an int, so it needs no parameters: psycopg's pipeline
    (as for the mark-sent below) costs this process about 3.5 times the CPU (measured
    with bench/send_marker.py). ``sent_at`` is the server's clock; the ESP's message id is
    our Message-ID until the server's reply names another (the mark-sent then does).
    """
    table = Delivery._meta.db_table
    return (
        f"BEGIN; SET LOCAL synchronous_commit TO OFF;"
        f" UPDATE {table} SET sent_at = now(), esp_message_id = message_id"
        f" WHERE id = {pk:d} AND status = '{Status.SENDING.value}'; COMMIT"
    ).encode()


def _send(pgconn: pq.abc.PGconn, query: bytes) -> None:
    pgconn.send_query(query)
    while pgconn.flush():  # 1: some of it is still to be written
        select.select([], [pgconn.socket], [])


def _read_results(raw: psycopg.Connection[Any]) -> None:
    """Read the answer to what _send sent; raise its first error, leaving no transaction."""
    pgconn = raw.pgconn
    error: str | None = None
    while (result := _next_result(pgconn)) is not None:
        if result.status == pq.ExecStatus.FATAL_ERROR and error is None:
            error = result.error_message.decode(errors="replace").strip()
    if raw.info.transaction_status != pq.TransactionStatus.IDLE:
        raw.execute("ROLLBACK")  # the UPDATE failed inside BEGIN: leave it as Django expects
    if error is not None:
        raise psycopg.DatabaseError(error)


def _next_result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            return pgconn.get_result()
        select.select([pgconn.socket], [], [])  # the server's answer is on its way


@functools.cache
def _sent_statement() -> str:
    # COALESCE: a handed-over delivery keeps the time its last byte left.
    table = Delivery._meta.db_table
    return (
        f"UPDATE {table} SET status = '{Status.SENT.value}',"
        f" sent_at = COALESCE(sent_at, %s), esp_message_id = %s"
        f" WHERE id = %s AND status = '{Status.SENDING.value}'"
    )
