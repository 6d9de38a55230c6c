"""The beat tick's planning half: it opens editions in shards, it never sends."""

from __future__ import annotations

import time_machine

from digest import editions
from digest.models import Delivery, DigestRun, PlanShard
from tests.digest.conftest import at_utc


def _plan_all(planned):
    for edition in planned:
        for shard_id in edition.shard_ids:
            editions.digest_shard_plan(shard_id=shard_id)


def test_the_tick_opens_the_editions_of_those_whose_hour_has_come(
    subscriber_factory, papers, day, mailoutbox
):
    due = subscriber_factory(send_hour=7)
    subscriber_factory(send_hour=7, timezone="America/New_York")  # 3 a.m. there
    with time_machine.travel(at_utc(8, 0), tick=False):
        (planned,) = editions.digest_plan_due()
    assert planned.run.edition_date == day
    assert [s.subscriber_ids for s in PlanShard.objects.all()] == [[due.pk]]
    assert not Delivery.objects.exists()  # the shards plan, on the workers
    _plan_all([planned])
    assert list(Delivery.objects.values_list("subscriber_id", "status")) == [(due.pk, "planned")]
    assert planned.planned_since <= Delivery.objects.get().created_at
    assert mailoutbox == []


def test_a_second_tick_in_the_same_slot_plans_nothing(subscriber_factory, papers, day):
    subscriber_factory(send_hour=7)
    with time_machine.travel(at_utc(8, 0), tick=False):
        assert len(editions.digest_plan_due()) == 1
        assert editions.digest_plan_due() == []  # the slot's lock


def test_the_readers_due_are_cut_into_id_ranges(subscriber_factory, papers, day, settings):
    settings.DIGEST_PLAN_SHARD_SIZE = 2
    readers = sorted(s.pk for s in subscriber_factory.create_batch(5, send_hour=7))
    with time_machine.travel(at_utc(8, 0), tick=False):
        (planned,) = editions.digest_plan_due()
    shards = PlanShard.objects.filter(pk__in=planned.shard_ids).order_by("first_id")
    assert [s.subscriber_ids for s in shards] == [readers[0:2], readers[2:4], readers[4:]]
    assert [(s.first_id, s.last_id) for s in shards] == [
        (readers[0], readers[1]),
        (readers[2], readers[3]),
        (readers[4], readers[4]),
    ]


def test_the_shards_pick_what_the_inline_command_picks(
    subscriber_factory, papers, day, settings, django_capture_on_commit_callbacks
):
    settings.DIGEST_PLAN_SHARD_SIZE = 2
    subscriber_factory.create_batch(3, send_hour=7, interests="diffusion, video")
    subscriber_factory.create_batch(2, send_hour=7, interests="protein folding")
    with (
        time_machine.travel(at_utc(8, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _plan_all(editions.digest_plan_due())
    sharded = dict(Delivery.objects.values_list("subscriber_id", "picks"))
    assert DigestRun.objects.get().built_at is not None  # the last shard finished the plan
    DigestRun.objects.all().delete()
    editions.digest_run_build(day=day)  # the command's inline path
    inline = dict(Delivery.objects.values_list("subscriber_id", "picks"))
    assert len(sharded) == 5
    assert sharded == inline
