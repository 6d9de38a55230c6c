"""marks.py: over SMTP a message that has left is recorded before its reply is read.

A worker killed after its message's final "." (the server has it) must not have it sent
again by the sweeper; one killed before it (nothing delivered) must. The kills here are
real: the chunk runs in its own process, SIGKILLed while the SMTP server holds a reply.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from digest import editions, sending
from digest.models import Delivery, DigestRun
from digest.sending import marks
from digest.sending.sweeper import HANDED_OVER_NOTE, LOST_NOTE
from tests.digest.sending import smtp_sink
from tests.digest.sending.processes import Database, smtp_env, wait_until

ROOT = Path(django_settings.BASE_DIR)
# A database error while recording the hand-over (the column does not exist).
BROKEN_MARK = b"BEGIN; UPDATE digest_delivery SET sent_at = now() WHERE no_such_column; COMMIT"
FAILING_MARK = (
    f"from digest.sending import marks\nmarks._handed_over_query = lambda pk: {BROKEN_MARK!r}\n"
)


class HoldingServer:
    """An SMTP server that holds one reply of the first message.

    "RCPT": before the message's "." (nothing taken); "DATA": after it, the message
    taken (as a server that has queued it) and its "250" not sent yet. ``refuse``: the
    addresses whose message is refused after its ".".
    """

    def __init__(self, hold: str = "", refuse: frozenset[str] = frozenset()) -> None:
        self.hold = hold
        self.refuse = refuse
        self.held = threading.Event()
        self.release = threading.Event()
        self.messages: list[tuple[str, str]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.hold == "RCPT":
            await self._hold()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if set(envelope.rcpt_tos) & self.refuse:
            return "554 5.7.1 Rejected"
        message_id = message_from_bytes(envelope.content)["Message-ID"]
        self.messages.extend((rcpt, message_id) for rcpt in envelope.rcpt_tos)
        if self.hold == "DATA":
            await self._hold()
        return "250 OK"

    async def _hold(self) -> None:
        if self.held.is_set():
            return  # only the first message is held
        self.held.set()
        while not self.release.is_set():  # cancelled when the client goes away
            await asyncio.sleep(0.01)


def _smtp_settings(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port


def _sending_run(subscriber_factory, day, n: int) -> list[int]:
    subscriber_factory.create_batch(n)
    run = editions.digest_run_build(day=day)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    return list(Delivery.objects.order_by("pk").values_list("pk", flat=True))


def _send_in_a_process(db: Database, port: int, ids: list[int], patch: str) -> subprocess.Popen:
    code = f"{patch}from digest.sending import delivery_send_chunk\ndelivery_send_chunk(delivery_ids={ids!r})"
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=smtp_env(db, port, DIGEST_SEND_RATE_PER_SECOND="0"),
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("hold", "patch", "copies", "swept_as"),
    [
        # Killed before the "." (the server holds its RCPT reply): nothing delivered,
        # so the sweeper sends it again.
        ("RCPT", "", 1, ("planned", LOST_NOTE)),
        # Killed after the "." (the server took it, its reply held): handed over, so
        # the sweeper counts it as sent and nobody gets it twice.
        ("DATA", "", 1, ("sent", HANDED_OVER_NOTE)),
        # The same kill when recording the hand-over failed: resent as without the
        # record (a duplicate, with the same Message-ID), never lost.
        ("DATA", FAILING_MARK, 2, ("planned", LOST_NOTE)),
    ],
)
def test_a_worker_killed_after_its_message_left_is_not_sent_again(
    transactional_db, subscriber_factory, papers, day, settings, tmp_path, monkeypatch, hold,
    patch, copies, swept_as,
):  # fmt: skip
    # The sweeper's verdict alone: its re-queueing of the run would send at once here.
    monkeypatch.setattr("digest.sending.sweeper.queue_chunks", lambda ids: len(ids))
    server = HoldingServer(hold)
    with smtp_sink.running(server) as port:
        _smtp_settings(settings, port)
        [pk] = _sending_run(subscriber_factory, day, 1)
        db = Database(tmp_path)
        db.push()
        worker = _send_in_a_process(db, port, [pk], patch)
        try:
            assert server.held.wait(60)

            def recorded(**fields: object) -> bool:
                db.pull()
                return Delivery.objects.filter(pk=pk, status="sending", **fields).exists()

            if hold == "DATA" and not patch:  # the record is there before the reply
                assert wait_until(lambda: recorded(sent_at__isnull=False), timeout=10)
            else:
                assert wait_until(recorded, timeout=10)  # the claim is
                time.sleep(0.5)  # ...and whatever the worker would write next
                assert recorded(sent_at=None)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
            server.release.set()
        db.pull()

        assert sending.delivery_sweep_stuck(timeout=timedelta(0)) == 1
        delivery = Delivery.objects.get(pk=pk)
        assert (delivery.status, delivery.last_error) == swept_as
        assert delivery.needs_reconciliation
        sending.delivery_send_chunk(delivery_ids=[pk])  # if the sweeper planned it again
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert server.messages == [(delivery.subscriber.email, delivery.message_id)] * copies


def test_each_email_is_handed_over_before_its_reply_and_sent_with_the_next_claim(
    transactional_db, subscriber_factory, papers, day, settings, monkeypatch
):
    # Outside a transaction: the production path (raw protocol messages), not the ORM's.
    server = HoldingServer()
    with smtp_sink.running(server) as port:
        _smtp_settings(settings, port)
        ids = _sending_run(subscriber_factory, day, 3)
        seen = []

        def throttle() -> None:
            rows = Delivery.objects.order_by("pk").values_list("status", "sent_at")
            seen.append([status + ("*" if sent_at else "") for status, sent_at in rows])

        monkeypatch.setattr("digest.sending.sender.throttle", throttle)
        result = sending.delivery_send_chunk(delivery_ids=ids)
    assert result.sent == 3
    # "sending*": handed over (its "." out), not resent by the sweeper if the worker dies.
    assert seen == [
        ["planned", "planned", "planned"],
        ["sending*", "planned", "planned"],
        ["sent*", "sending*", "planned"],
    ]
    rows = Delivery.objects.order_by("pk")
    assert [(d.status, d.needs_reconciliation) for d in rows] == [("sent", False)] * 3
    assert all(d.sent_at and d.esp_message_id == d.message_id for d in rows)
    assert len(server.messages) == 3
    if connection.vendor == "postgresql":
        assert connection.connection.info.transaction_status.name == "IDLE"


def test_a_refusal_read_after_the_hand_over_fails_the_delivery(
    transactional_db, subscriber_factory, papers, day, settings
):
    ids = _sending_run(subscriber_factory, day, 3)
    emails = list(Delivery.objects.order_by("pk").values_list("subscriber__email", flat=True))
    server = HoldingServer(refuse=frozenset({emails[1]}))
    with smtp_sink.running(server) as port:
        _smtp_settings(settings, port)
        result = sending.delivery_send_chunk(delivery_ids=ids)
    assert (result.sent, result.failed) == (2, 1)
    rows = list(Delivery.objects.order_by("pk"))
    assert [d.status for d in rows] == ["sent", "failed", "sent"]
    assert rows[1].sent_at is None  # it did not leave after all
    assert "Rejected" in rows[1].last_error
    assert [rcpt for rcpt, _ in server.messages] == [emails[0], emails[2]]


def test_when_the_hand_over_cannot_be_recorded_each_email_is_marked_sent_after_its_reply(
    transactional_db, subscriber_factory, papers, day, settings, monkeypatch, caplog
):
    monkeypatch.setattr(marks, "_handed_over_query", lambda pk: BROKEN_MARK)
    server = HoldingServer()
    with smtp_sink.running(server) as port:
        _smtp_settings(settings, port)
        ids = _sending_run(subscriber_factory, day, 2)
        with caplog.at_level(logging.WARNING, logger="digest.sending.sender"):
            result = sending.delivery_send_chunk(delivery_ids=ids)
    assert result.sent == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert caplog.text.count("recording the hand-over failed") == 2
    assert len(server.messages) == 2
    if connection.vendor == "postgresql":
        assert connection.connection.info.transaction_status.name == "IDLE"
