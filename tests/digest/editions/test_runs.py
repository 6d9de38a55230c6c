"""A run's counts: recounted at most once per window while it sends, settled in the end."""

from __future__ import annotations

import pytest
from django.core import mail

from digest import editions, sending, tracking
from digest.editions.runs import digest_run_recount_dirty
from digest.models import Delivery, DigestRun, TrackingEvent


@pytest.fixture
def throttled(settings):
    settings.DIGEST_RUN_RECOUNT_SECONDS = 60
    settings.DIGEST_SEND_CHUNK_SIZE = 2


def test_a_run_sent_in_many_chunks_still_ends_done_with_exact_counts(
    throttled, subscriber_factory, papers, day, mailoutbox
):
    subscriber_factory.create_batch(7)
    run = editions.digest_run_build(day=day)
    sending.digest_run_send(run=run, inline=True)

    run.refresh_from_db()
    assert len(mail.outbox) == 7
    assert (run.status, run.sent_count, run.planned_count) == ("done", 7, 7)


def test_chunks_within_the_window_skip_the_recount_until_the_last(
    throttled, subscriber_factory, papers, day, mailoutbox
):
    subscriber_factory.create_batch(6)
    run = editions.digest_run_build(day=day)
    DigestRun.objects.filter(pk=run.pk).update(status="sending")
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))

    sending.delivery_send_chunk(delivery_ids=ids[:2])  # first in the window: recounted
    sending.delivery_send_chunk(delivery_ids=ids[2:4])  # same window: skipped
    run.refresh_from_db()
    assert (run.status, run.sent_count) == ("sending", 2)

    sending.delivery_send_chunk(delivery_ids=ids[4:])  # nothing left: recounted at once
    run.refresh_from_db()
    assert (run.status, run.sent_count) == ("done", 6)


def test_failed_sends_recount_at_once_so_the_run_can_pause(
    throttled, subscriber_factory, papers, day, settings
):
    settings.EMAIL_BACKEND = "tests.digest.editions.test_runs.FailingBackend"
    settings.DIGEST_MAX_ERROR_RATE = 0.2
    subscriber_factory.create_batch(30)
    run = editions.digest_run_build(day=day)
    DigestRun.objects.filter(pk=run.pk).update(status="sending")
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))

    sending.delivery_send_chunk(delivery_ids=ids[:25])
    run.refresh_from_db()
    assert run.status == "paused"
    assert run.failed_count == 25


def test_skipped_event_recounts_are_made_up_by_the_sweeper(
    throttled, subscriber_factory, papers, day, mailoutbox
):
    subscriber_factory.create_batch(2)
    run = editions.digest_run_build(day=day)
    sending.digest_run_send(run=run, inline=True)  # ends with a recount (done)
    first, second = Delivery.objects.order_by("pk")
    for i, delivery in enumerate((first, second)):
        event = TrackingEvent.objects.create(
            delivery=delivery, event_id=f"open-{i}", event_type="opened", recipient="x@y.z"
        )
        tracking.tracking_event_process(tracking_event_id=event.pk)
    run.refresh_from_db()
    assert run.opened_count == 1  # the second event fell in the first one's window

    assert digest_run_recount_dirty() == 1
    run.refresh_from_db()
    assert run.opened_count == 2
    assert digest_run_recount_dirty() == 0  # clean again


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("ESP down")
