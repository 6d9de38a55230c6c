"""sweeper.py: what a dead worker left, found and sent again or handed to the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from digest import editions, sending
from digest.models import Delivery
from digest.sending.sweeper import HANDED_OVER_NOTE, LOST_NOTE


def _build(day, **kwargs):
    return editions.digest_run_build(day=day, **kwargs)


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


def test_by_default_a_dead_workers_delivery_goes_again_within_five_minutes(settings):
    from celery.schedules import crontab

    schedule = settings.CELERY_BEAT_SCHEDULE["sweep-stuck-deliveries"]["schedule"]
    assert isinstance(schedule, crontab)
    minutes = sorted(schedule.minute)
    longest_gap = max(b - a for a, b in zip(minutes, [*minutes[1:], minutes[0] + 60], strict=True))
    assert settings.DIGEST_SENDING_TIMEOUT_MINUTES + longest_gap <= 5


@pytest.mark.parametrize("resend", [True, False])
def test_a_delivery_handed_over_before_its_worker_died_is_counted_as_sent_not_resent(
    subscriber_factory, papers, day, settings, mailoutbox, resend
):
    settings.DIGEST_RECONCILE_RESEND = resend
    subscriber_factory()
    run = _build(day)
    sending.digest_run_send(run=run)
    delivery = Delivery.objects.get()
    sending.delivery_claim(delivery=delivery)
    left = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(sent_at=left)  # its "." was out, then a kill
    assert sending.delivery_sweep_stuck(now=timezone.now() + timedelta(hours=1)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.needs_reconciliation) == ("sent", True)
    assert (delivery.sent_at, delivery.last_error) == (left, HANDED_OVER_NOTE)
    sending.delivery_send_chunk(delivery_ids=[delivery.pk])
    assert mailoutbox == []


def test_a_resent_delivery_is_not_taken_for_handed_over_by_its_last_attempt(
    subscriber_factory, papers, day, mailoutbox
):
    subscriber_factory()
    run = _build(day)
    sending.digest_run_send(run=run, inline=True)
    delivery = Delivery.objects.get()
    assert delivery.sent_at is not None
    sending.delivery_resend(delivery=delivery)  # the admin sends it again...
    assert sending.delivery_claim(delivery=delivery)  # ...and the worker dies before the "."
    sending.delivery_sweep_stuck(now=timezone.now() + timedelta(hours=1))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("planned", LOST_NOTE)
    sending.delivery_send_chunk(delivery_ids=[delivery.pk])
    assert len(mailoutbox) == 2
