"""Counts from events: a delivery counts in every stage it reached, whatever its status now."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

import pytest

from digest.models import Delivery, DigestRun, TrackingEvent
from digest.tracking import delivery_daily_stats
from ops.stats import daily_stats, delivery_funnel, suppression_counts
from subscriptions.models import ConsentRecord, Subscriber
from tests.ops.conftest import at

TODAY = date(2026, 11, 30)
_event_ids = count()


def _event(delivery, event_type, day=TODAY):
    TrackingEvent.objects.create(
        event_id=f"test:{next(_event_ids)}",
        event_type=event_type,
        delivery=delivery,
        occurred_at=at(day, 13),
    )


@pytest.fixture
def run(db):
    return DigestRun.objects.create(edition_date=TODAY, status=DigestRun.Status.DONE)


@pytest.fixture
def deliver(run, subscriber_factory):
    def make(status, day=TODAY, **fields):
        sent = {"sent_at": at(day)} if status not in ("planned", "failed", "skipped") else {}
        return Delivery.objects.create(
            run=run, subscriber=subscriber_factory(), status=status, **sent, **fields
        )

    return make


def test_a_soft_bounce_later_opened_and_clicked_counts_in_every_stage_it_reached(deliver):
    # The status stays "bounced" (events only move it forward): the open and the click
    # are only in the events.
    delivery = deliver("bounced", bounced_at=at(TODAY, 13))
    for event_type in ("delivered", "bounced", "opened", "clicked"):
        _event(delivery, event_type)

    funnel = delivery_funnel(deliveries=Delivery.objects.all())

    assert funnel == {
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "bounced": 1,
        "complained": 0,
    }
    # The old per-status chart lost them.
    old = delivery_daily_stats(days=1, today=TODAY)[0]
    assert (old["opened"], old["clicked"]) == (0, 0)


def test_a_click_implies_an_open_and_a_delivery_and_statuses_count_without_events(deliver):
    _event(deliver("sent"), "clicked")  # the open pixel was blocked; the click says it all
    deliver("clicked")  # no events stored (say, older rows): the status speaks
    deliver("opened", opened_at=at(TODAY, 14))
    deliver("sent")
    deliver("failed")
    deliver("planned")
    complained = deliver("complained")
    _event(complained, "complained")

    funnel = delivery_funnel(deliveries=Delivery.objects.all())

    assert funnel == {
        "sent": 5,
        "delivered": 3,
        "opened": 3,
        "clicked": 2,
        "bounced": 0,
        "complained": 1,
    }


def test_the_funnel_counts_only_the_deliveries_it_is_given(deliver, run):
    _event(deliver("opened"), "opened")
    other = DigestRun.objects.create(edition_date=TODAY - timedelta(days=1), status="done")
    Delivery.objects.create(
        run=other, subscriber=Subscriber.objects.first(), status="clicked", sent_at=at(TODAY)
    )
    assert delivery_funnel(deliveries=run.deliveries.all())["opened"] == 1
    assert delivery_funnel(deliveries=Delivery.objects.all())["opened"] == 2


def test_the_daily_series_count_emails_by_the_day_they_were_sent(deliver):
    three_days_ago = TODAY - timedelta(days=3)
    bounced_then_opened = deliver("bounced", day=three_days_ago)
    _event(bounced_then_opened, "bounced", day=three_days_ago)
    _event(bounced_then_opened, "opened", day=TODAY)  # opened today, sent 3 days ago
    deliver("delivered", day=three_days_ago, delivered_at=at(three_days_ago, 13))
    deliver("sent", day=TODAY)
    deliver("sent", day=TODAY - timedelta(days=40))  # before the window

    stats = daily_stats(days=30, today=TODAY)

    assert stats.days[0] == TODAY - timedelta(days=29) and stats.days[-1] == TODAY
    assert len(stats.days) == 30
    s = stats.series
    assert (s["sent"][-4], s["delivered"][-4], s["opened"][-4], s["bounced"][-4]) == (2, 2, 1, 1)
    assert (s["sent"][-1], s["opened"][-1]) == (1, 0)
    assert sum(s["sent"]) == 3


def test_the_daily_series_count_readers_joining_confirming_and_leaving(subscriber_factory):
    yesterday = TODAY - timedelta(days=1)
    joined = subscriber_factory(created_at=at(yesterday), status="pending", confirmed_at=None)
    ConsentRecord.objects.create(subscriber=joined, signup_at=at(yesterday))
    confirmed = subscriber_factory(created_at=at(yesterday))
    ConsentRecord.objects.create(
        subscriber=confirmed, signup_at=at(yesterday), confirmed_at=at(TODAY)
    )
    left = subscriber_factory(created_at=at(TODAY - timedelta(days=90)), status="unsubscribed")
    ConsentRecord.objects.create(
        subscriber=left,
        signup_at=at(TODAY - timedelta(days=90)),
        unsubscribed_at=at(TODAY),
        unsubscribe_method="footer-link",
    )

    s = daily_stats(days=30, today=TODAY).series

    assert (s["new readers"][-2], s["new readers"][-1]) == (2, 0)
    assert (s["confirmed"][-2], s["confirmed"][-1]) == (0, 1)
    assert s["unsubscribed"][-1] == 1 and sum(s["unsubscribed"]) == 1


def test_suppressions_are_readers_whose_last_consent_ended_in_a_bounce_or_complaint(
    subscriber_factory,
):
    def reader(status, *methods, soft=0):
        sub = subscriber_factory(status=status, soft_bounce_count=soft)
        for i, method in enumerate(methods):
            ended = at(TODAY) if method else None
            ConsentRecord.objects.create(
                subscriber=sub,
                signup_at=at(TODAY - timedelta(days=10 - i)),
                unsubscribed_at=ended,
                unsubscribe_method=method,
            )
        return sub

    reader("unsubscribed", "bounce")
    reader("unsubscribed", "complaint")
    reader("unsubscribed", "footer-link")
    reader("active", "bounce", "", soft=1)  # bounced once, came back: not suppressed
    reader("unsubscribed", "bounce", "preferences")  # left on their own the last time

    assert suppression_counts() == {"bounce": 1, "complaint": 1, "soft_bouncing": 1}
