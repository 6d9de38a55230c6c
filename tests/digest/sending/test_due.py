"""due.py: the beat tick plans what is due and queues it, once."""

from __future__ import annotations

import time_machine

from digest import sending
from digest.models import Delivery, DigestRun
from digest.sending import runs
from tests.digest.conftest import at_utc


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
    monkeypatch.setattr(runs, "_enqueue", queued.append)  # the workers are slow
    at_eight = subscriber_factory.create_batch(2, send_hour=8)
    at_nine = subscriber_factory.create_batch(3, send_hour=9)
    with (
        time_machine.travel(at_utc(8, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),  # the shard tasks run
    ):
        sending.digest_send_due()
    with (
        time_machine.travel(at_utc(9, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
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
