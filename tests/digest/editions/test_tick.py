"""The beat tick's planning half: it plans, it never sends."""

from __future__ import annotations

import time_machine

from digest import editions
from digest.editions import planning
from digest.models import Delivery
from digest.ranking.inputs import SubscriberInputs
from tests.digest.conftest import at_utc


def test_the_tick_plans_those_whose_hour_has_come_and_sends_nothing(
    subscriber_factory, papers, day, mailoutbox
):
    due = subscriber_factory(send_hour=7)
    subscriber_factory(send_hour=7, timezone="America/New_York")  # 3 a.m. there
    with time_machine.travel(at_utc(8, 0), tick=False):
        (planned,) = editions.digest_plan_due()
    assert planned.run.edition_date == day
    assert list(Delivery.objects.values_list("subscriber_id", "status")) == [(due.pk, "planned")]
    assert planned.planned_since <= Delivery.objects.get().created_at
    assert mailoutbox == []


def test_a_second_tick_in_the_same_slot_plans_nothing(subscriber_factory, papers, day):
    subscriber_factory(send_hour=7)
    with time_machine.travel(at_utc(8, 0), tick=False):
        assert len(editions.digest_plan_due()) == 1
        assert editions.digest_plan_due() == []  # the slot's lock


def test_the_tick_and_the_command_rank_the_same_rows(subscriber_factory, papers, day, monkeypatch):
    subscriber_factory.create_batch(2, send_hour=7)
    seen: list[list[object]] = []
    build = planning.digest_run_build

    def spy(*, day, frequency="daily", subscribers=None):
        if subscribers is None:
            subscribers = planning._due_inputs(day=day, frequency=frequency)
        seen.append(list(subscribers))
        return build(day=day, frequency=frequency, subscribers=subscribers)

    monkeypatch.setattr("digest.editions.tick.digest_run_build", spy)
    with time_machine.travel(at_utc(8, 0), tick=False):
        editions.digest_plan_due()
    spy(day=day)  # the command's path: build with no rows given
    tick_rows, command_rows = seen
    assert all(isinstance(row, SubscriberInputs) for row in tick_rows + command_rows)
    assert tick_rows == command_rows
