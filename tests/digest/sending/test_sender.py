"""sender.py: the loop over a chunk (whatever the transport: see test_transport.py)."""

from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPRecipientsRefused

import time_machine
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from digest import editions, sending
from digest.models import Delivery, DigestRun
from subscriptions.models import Subscriber
from tests.digest.conftest import at_utc


def _build(day, **kwargs):
    return editions.digest_run_build(day=day, **kwargs)


def test_it_never_claims_a_delivery_of_an_unsubscribed_or_suppressed_subscriber(
    subscriber_factory, papers, day, mailoutbox
):
    stays, leaves, erased = subscriber_factory.create_batch(3)
    run = _build(day)
    # They leave after the run was planned, before the chunk runs.
    Subscriber.objects.filter(pk=leaves.pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    Subscriber.objects.filter(pk=erased.pk).update(deleted_at=timezone.now())
    sending.digest_run_send(run=run, inline=True)

    assert [m.to for m in mailoutbox] == [[stays.email]]
    statuses = dict(Delivery.objects.values_list("subscriber_id", "status"))
    assert statuses == {stays.pk: "sent", leaves.pk: "skipped", erased.pk: "skipped"}
    run.refresh_from_db()
    assert (run.status, run.sent_count, run.skipped_count) == ("done", 1, 1 + 1)


def test_a_chunk_reads_as_much_for_3_or_12_emails(subscriber_factory, papers, day, mailoutbox):
    # The chunk loads only the fields sending reads: touching a deferred one would cost
    # a SELECT per email. (Claims and marks are one write per email by design.)
    counts = []
    for n in (3, 12):
        subscriber_factory.create_batch(n)
        run = _build(day)
        DigestRun.objects.filter(pk=run.pk).update(status="sending")
        ids = list(Delivery.objects.filter(run=run).values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as queries:
            sending.delivery_send_chunk(delivery_ids=ids)
        counts.append(len([q for q in queries if q["sql"].startswith("SELECT")]))
        Delivery.objects.filter(run=run).delete()
        run.delete()
    assert len(mailoutbox) == 3 + 15  # the first 3 are due again in the second run
    assert counts[0] == counts[1]


def test_the_papers_snapshot_is_read_once_per_process_not_per_chunk(
    subscriber_factory, papers, day, mailoutbox
):
    subscriber_factory.create_batch(4)
    run = _build(day)
    DigestRun.objects.filter(pk=run.pk).update(status="sending")
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    reads = []
    for chunk in (ids[:2], ids[2:]):
        with CaptureQueriesContext(connection) as queries:
            sending.delivery_send_chunk(delivery_ids=chunk)
        reads.append(sum('"digest_digestrun"."papers"' in q["sql"] for q in queries))
    assert reads == [1, 0]
    assert len(mailoutbox) == 4


def test_a_retried_chunk_sends_nothing_already_sent(subscriber_factory, papers, day, mailoutbox):
    subscriber_factory.create_batch(3)
    run = _build(day)
    sending.digest_run_send(run=run, inline=True)
    ids = list(Delivery.objects.values_list("pk", flat=True))
    sending.delivery_send_chunk(delivery_ids=ids)
    assert len(mailoutbox) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_subscriber_who_pauses_after_planning_is_skipped_not_sent(
    subscriber_factory, papers, day, mailoutbox
):
    stays, pauses = subscriber_factory.create_batch(2)
    run = _build(day)
    with time_machine.travel(at_utc(9, day=day), tick=False):
        Subscriber.objects.filter(pk=pauses.pk).update(paused_until=day)
        sending.digest_run_send(run=run, inline=True)
    assert [m.to for m in mailoutbox] == [[stays.email]]
    skipped = Delivery.objects.get(subscriber=pauses)
    assert (skipped.status, skipped.last_error) == ("skipped", "paused before sending")
    run.refresh_from_db()
    assert (run.status, run.sent_count, run.skipped_count) == ("done", 1, 1)


def test_a_cancelled_run_sends_nothing(subscriber_factory, papers, day, mailoutbox, settings):
    settings.DIGEST_REQUIRE_APPROVAL = True
    subscriber_factory.create_batch(2)
    run = _build(day)
    sending.digest_run_cancel(run=run, user="editor")
    sending.digest_run_approve(run=run, inline=True)
    sending.delivery_send_chunk(delivery_ids=list(Delivery.objects.values_list("pk", flat=True)))
    run.refresh_from_db()
    assert (run.status, run.skipped_count, mailoutbox) == ("cancelled", 2, [])


def test_a_run_pauses_itself_when_the_error_rate_passes_the_threshold(
    subscriber_factory, papers, day, settings, monkeypatch
):
    settings.DIGEST_MAX_ERROR_RATE = 0.2
    settings.DIGEST_SEND_CHUNK_SIZE = 10
    subscriber_factory.create_batch(40)

    def refuse(self, messages):
        raise SMTPRecipientsRefused({"x": (550, b"no")})

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    run = _build(day)
    sending.digest_run_send(run=run, inline=True)
    run.refresh_from_db()
    assert run.status == DigestRun.Status.PAUSED
    assert run.failed_count == 20  # paused after the minimum sample; later chunks claim nothing
    assert Delivery.objects.filter(status="planned").count() == 20
    assert "SMTPRecipientsRefused" in Delivery.objects.filter(status="failed").first().last_error


def test_a_resumed_run_sends_the_rest_once_the_esp_works_again(
    subscriber_factory, papers, day, settings, esp, mailoutbox
):
    settings.DIGEST_MAX_ERROR_RATE = 0.2
    settings.DIGEST_SEND_CHUNK_SIZE = 10
    subscriber_factory.create_batch(50)
    esp.down()
    run = _build(day)
    sending.digest_run_send(run=run, inline=True)
    run.refresh_from_db()
    assert (run.status, run.failed_count) == ("paused", 20)

    esp.up()
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        sending.digest_run_approve(run=run, user="editor", inline=True)  # "Resume sending"
    run.refresh_from_db()
    # The 20 failures before the pause don't count against the resumed run.
    assert (run.status, run.sent_count, run.failed_count) == ("done", 30, 20)
    assert len(mailoutbox) == 30


class CountingBackend(EmailBackend):
    """locmem, counting how often the chunk opens and closes its connection."""

    opened = 0
    closed = 0

    def open(self):
        CountingBackend.opened += 1
        return True

    def close(self):
        CountingBackend.closed += 1


def test_one_connection_serves_the_whole_chunk(subscriber_factory, papers, day, settings):
    settings.EMAIL_BACKEND = f"{__name__}.CountingBackend"
    settings.DIGEST_SEND_CHUNK_SIZE = 10
    CountingBackend.opened = CountingBackend.closed = 0
    subscriber_factory.create_batch(25)
    sending.digest_run_send(run=_build(day), inline=True)
    assert Delivery.objects.filter(status="sent").count() == 25
    assert (CountingBackend.opened, CountingBackend.closed) == (3, 3)  # one per chunk


def test_each_email_is_marked_sent_before_the_next_is_throttled_or_claimed(
    subscriber_factory, papers, day, mailoutbox, monkeypatch
):
    # A kill while waiting for the next email's turn must not leave this one "sending"
    # (the sweeper would send it again: a duplicate). Over SMTP it is "sending" and
    # handed over instead, which the sweeper does not resend (test_marks.py).
    subscriber_factory.create_batch(3)
    run = _build(day)
    DigestRun.objects.filter(pk=run.pk).update(status="sending")
    seen = []

    def throttle() -> None:
        seen.append(sorted(Delivery.objects.values_list("status", flat=True)))

    monkeypatch.setattr("digest.sending.sender.throttle", throttle)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    sending.delivery_send_chunk(delivery_ids=ids)
    assert seen == [
        ["planned", "planned", "planned"],
        ["planned", "planned", "sent"],
        ["planned", "sent", "sent"],
    ]


def test_outside_a_transaction_the_mark_is_one_asynchronous_pipeline(
    transactional_db, subscriber_factory, papers, day, mailoutbox
):
    # The tests' own transaction hides the production path: here there is none.
    subscriber_factory.create_batch(2)
    run = _build(day)
    DigestRun.objects.filter(pk=run.pk).update(status="sending")
    ids = list(Delivery.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        result = sending.delivery_send_chunk(delivery_ids=ids)
    assert (result.sent, len(mailoutbox)) == (2, 2)
    sent = Delivery.objects.filter(status="sent").exclude(sent_at=None).exclude(esp_message_id="")
    assert sent.count() == 2
    assert not any("SET LOCAL" in q["sql"] for q in queries)  # psycopg's pipeline, not Django's
    if connection.vendor == "postgresql":
        assert connection.connection.info.transaction_status.name == "IDLE"
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"  # SET LOCAL: the session is unchanged
