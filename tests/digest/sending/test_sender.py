from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPRecipientsRefused

import pytest
import time_machine
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from digest import editions, sending
from digest.models import Delivery, DigestRun
from digest.sending import sender as send_services
from subscriptions.models import PaperFeedback, Subscriber
from tests.digest.conftest import at_utc


class ESP:
    """The test email backend, made to fail every send and to recover."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch
        self.real = EmailBackend.send_messages

    def down(self) -> None:
        def refuse(backend, messages):
            raise OSError("down")

        self.monkeypatch.setattr(EmailBackend, "send_messages", refuse)

    def up(self) -> None:
        self.monkeypatch.setattr(EmailBackend, "send_messages", self.real)


@pytest.fixture
def esp(monkeypatch) -> ESP:
    return ESP(monkeypatch)


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


def test_a_claim_succeeds_once(subscriber_factory, papers, day):
    subscriber_factory()
    run = _build(day)
    sending.digest_run_send(run=run, inline=False)  # queued only: nothing runs in a test txn
    delivery = Delivery.objects.get()
    assert sending.delivery_claim(delivery=delivery) is True
    assert sending.delivery_claim(delivery=delivery) is False
    delivery.refresh_from_db()
    assert delivery.status == "sending"
    assert delivery.message_id == f"<digest.{run.pk}.{delivery.pk}@localhost>"
    assert delivery.attempts == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's prepared claim (CI runs it)"
)
def test_the_claim_is_a_prepared_statement_on_postgresql(
    subscriber_factory, papers, day, mailoutbox
):
    subscriber_factory.create_batch(3)
    sending.digest_run_send(run=_build(day), inline=True)
    assert len(mailoutbox) == 3
    with connection.cursor() as cursor:  # the same session that claimed
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("UPDATE digest_delivery AS d SET status" in sql for sql in prepared)


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
            send_services.delivery_send_chunk(delivery_ids=ids)
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
            send_services.delivery_send_chunk(delivery_ids=chunk)
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


def test_it_does_not_repeat_papers_already_sent(
    subscriber_factory, paper_trend_factory, papers, day, mailoutbox
):
    reader = subscriber_factory(digest_size=5)
    sending.digest_run_send(run=_build(day), inline=True)
    first = {p["arxiv_id"] for p in Delivery.objects.get().picks}
    next_day = day + timedelta(days=1)
    for paper in papers:
        paper_trend_factory(paper=paper, day=next_day)
    paper_trend_factory(day=next_day, paper__title="Diffusion transformers at scale")
    sending.digest_run_send(run=_build(next_day), inline=True)
    second = Delivery.objects.get(run__edition_date=next_day, subscriber=reader)
    assert {p["arxiv_id"] for p in second.picks}.isdisjoint(first)
    assert len(second.picks) >= 1


def test_it_ranks_with_the_subscribers_feedback(subscriber_factory, papers, day):
    reader = subscriber_factory(interests="", digest_size=5)
    PaperFeedback.objects.create(subscriber=reader, arxiv_id=papers[3].arxiv_id, kind="dislike")
    _build(day)
    picks = Delivery.objects.get().picks
    assert all({"arxiv_id", "score", "reason"} <= set(p) for p in picks)
    assert [p["score"] for p in picks] == sorted((p["score"] for p in picks), reverse=True)


def test_with_approval_required_a_run_waits_for_review(
    subscriber_factory, papers, day, mailoutbox, settings
):
    settings.DIGEST_REQUIRE_APPROVAL = True
    subscriber_factory.create_batch(2)
    run = _build(day)
    assert run.status == DigestRun.Status.AWAITING_REVIEW
    sending.digest_run_send(run=run, inline=True)
    assert mailoutbox == []
    sending.digest_run_approve(run=run, user="editor", inline=True)
    run.refresh_from_db()
    assert (run.status, run.approved_by, len(mailoutbox)) == ("done", "editor", 2)


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


def test_the_admin_can_resend_all_failed_deliveries(
    subscriber_factory, papers, day, mailoutbox, esp
):
    subscriber_factory.create_batch(3)
    esp.down()
    run = _build(day)
    sending.digest_run_send(run=run, inline=True)
    assert Delivery.objects.filter(status="failed").count() == 3
    esp.up()
    assert sending.digest_run_resend_failed(run=run, inline=True) == 3
    run.refresh_from_db()
    assert (run.status, run.sent_count, len(mailoutbox)) == ("done", 3, 3)


def test_the_sweeper_requeues_a_delivery_left_sending_with_the_same_message_id(
    subscriber_factory, papers, day, mailoutbox
):
    subscriber_factory()
    run = _build(day)
    sending.digest_run_send(run=run)
    delivery = Delivery.objects.get()
    assert sending.delivery_claim(delivery=delivery)  # a worker claims it, then dies
    assert sending.delivery_sweep_stuck(timeout=timedelta(minutes=15)) == 0  # too recent
    later = timezone.now() + timedelta(minutes=16)
    assert sending.delivery_sweep_stuck(now=later) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.needs_reconciliation) == ("planned", True)
    sending.delivery_send_chunk(delivery_ids=[delivery.pk])
    assert mailoutbox[0].extra_headers["Message-ID"] == delivery.message_id


def test_with_resend_off_the_sweeper_leaves_it_to_the_admin(
    subscriber_factory, papers, day, settings, mailoutbox
):
    settings.DIGEST_RECONCILE_RESEND = False
    subscriber_factory()
    run = _build(day)
    sending.digest_run_send(run=run)
    delivery = Delivery.objects.get()
    sending.delivery_claim(delivery=delivery)
    sending.delivery_sweep_stuck(now=timezone.now() + timedelta(hours=1))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.needs_reconciliation) == ("failed", True)
    assert mailoutbox == []


def test_the_sweeper_requeues_orphaned_planned_deliveries(
    subscriber_factory, papers, day, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber_factory.create_batch(2)
    run = _build(day)
    sending.digest_run_send(run=run)  # the chunk task was lost with its worker
    with django_capture_on_commit_callbacks(execute=True):
        sending.delivery_sweep_stuck(now=timezone.now() + timedelta(hours=1))
    assert len(mailoutbox) == 2


def test_the_beat_tick_sends_to_those_whose_hour_has_come_once(
    subscriber_factory, papers, day, mailoutbox, django_capture_on_commit_callbacks
):
    early = subscriber_factory(send_hour=7)
    subscriber_factory(send_hour=7, timezone="America/New_York")
    weekly_other_day = subscriber_factory(frequency="weekly", weekday=4)
    with (
        time_machine.travel(at_utc(8, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sending.digest_send_due()
        sending.digest_send_due()  # beat fired twice: the tick lock
    assert [m.to for m in mailoutbox] == [[early.email]]
    with (
        time_machine.travel(at_utc(8, 15), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sending.digest_send_due()  # next tick: nobody new is due
    assert len(mailoutbox) == 1
    with (
        time_machine.travel(at_utc(12, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sending.digest_send_due()
    assert len(mailoutbox) == 2
    assert not Delivery.objects.filter(subscriber=weekly_other_day).exists()
    assert DigestRun.objects.get().status == "done"


def test_a_tick_queues_only_the_deliveries_it_planned(
    subscriber_factory, papers, day, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[list[int]] = []
    monkeypatch.setattr(send_services, "_enqueue", queued.append)  # the workers are slow
    at_eight = subscriber_factory.create_batch(2, send_hour=8)
    at_nine = subscriber_factory.create_batch(3, send_hour=9)
    with time_machine.travel(at_utc(8, 0), tick=False):
        sending.digest_send_due()
    with time_machine.travel(at_utc(9, 0), tick=False):
        sending.digest_send_due()  # the 8 o'clock chunk is still waiting for a worker

    by_id = dict(Delivery.objects.values_list("pk", "subscriber__email"))
    assert [sorted(by_id[pk] for pk in chunk) for chunk in queued] == [
        sorted(s.email for s in at_eight),
        sorted(s.email for s in at_nine),
    ]


def test_a_retried_tick_sends_nothing_twice_even_without_the_lock(
    subscriber_factory, papers, day, mailoutbox, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    subscriber_factory.create_batch(2)
    with (
        time_machine.travel(at_utc(9, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sending.digest_send_due()
        cache.clear()  # the lock is gone (e.g. Redis restarted)
        sending.digest_send_due()
    assert len(mailoutbox) == 2


@pytest.mark.parametrize("rate", [50.0])
def test_the_global_rate_limit_spreads_sends_over_windows(rate, settings, monkeypatch):
    settings.DIGEST_SEND_RATE_PER_SECOND = rate
    clock = {"t": 1000.0}
    monkeypatch.setattr(send_services.time, "time", lambda: clock["t"])
    monkeypatch.setattr(
        send_services.time, "sleep", lambda s: clock.__setitem__("t", clock["t"] + s)
    )
    for _ in range(120):
        send_services._throttle()
    assert 2.0 <= clock["t"] - 1000.0 < 3.0  # 120 sends at 50/s take 3 windows


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


def test_the_previous_email_is_marked_sent_in_the_next_claim(subscriber_factory, papers, day):
    subscriber_factory.create_batch(2)
    run = _build(day)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    one, two = Delivery.objects.order_by("pk")
    assert sending.delivery_claim(delivery=one)
    assert sending.delivery_claim(delivery=two, mark_sent=(one, object()))
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, one.esp_message_id) == ("sent", one.message_id)
    assert one.sent_at is not None
    assert two.status == "sending"
    # A failed claim still marks the previous email sent.
    Delivery.objects.filter(pk=one.pk).update(status="sending")
    assert not sending.delivery_claim(delivery=two, mark_sent=(one, object()))
    assert Delivery.objects.get(pk=one.pk).status == "sent"


def test_the_orm_claim_matches_the_sql_claim(subscriber_factory, papers, day):
    stays, leaves = subscriber_factory.create_batch(2)
    run = _build(day)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    Subscriber.objects.filter(pk=leaves.pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    mine = Delivery.objects.get(subscriber=stays)
    gone = Delivery.objects.get(subscriber=leaves)
    now = timezone.now()
    assert send_services._claim_orm(mine.pk, now, "<a@b>", None) == 1
    assert send_services._claim_orm(mine.pk, now, "<a@b>", None) == 0
    mine.message_id = "<a@b>"  # as delivery_claim() sets it
    assert send_services._claim_orm(gone.pk, now, "<c@d>", (mine, object())) == 0
    mine.refresh_from_db()
    assert (mine.status, mine.attempts, mine.esp_message_id) == ("sent", 1, "<a@b>")
    assert Delivery.objects.get(pk=gone.pk).status == "planned"


def test_the_rate_limit_reserves_tokens_in_blocks_and_stays_global(settings, monkeypatch):
    from django.core.cache import cache

    settings.DIGEST_SEND_RATE_PER_SECOND = 1000.0
    clock = {"t": 5000.0}
    monkeypatch.setattr(send_services.time, "time", lambda: clock["t"])
    monkeypatch.setattr(
        send_services.time, "sleep", lambda s: clock.__setitem__("t", clock["t"] + s)
    )
    increments = []
    real_incr = cache.incr
    monkeypatch.setattr(cache, "incr", lambda *a, **k: increments.append(1) or real_incr(*a, **k))
    # Three workers (each its own token state) share the cache's counter.
    workers = [send_services._Tokens() for _ in range(3)]
    sends_in_first_window = 0
    for i in range(1500):
        monkeypatch.setattr(send_services, "_tokens", workers[i % 3])
        send_services._throttle()
        sends_in_first_window += clock["t"] < 5001.0
    assert sends_in_first_window <= 1000  # never more than the window's allowance
    assert 1.0 <= clock["t"] - 5000.0 < 2.0
    assert len(increments) <= 1500 // send_services.RATE_BLOCK_MAX + 6  # ~1 per block
