"""Sharded planning: each reader planned and sent once, whatever the workers do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from digest import editions, sending
from digest.editions import planning, shards
from digest.models import Delivery, DigestRun, EditionPlan, PlanShard
from digest.ranking import ranker as ranker_module
from tests.digest.conftest import at_utc

LATER = timedelta(minutes=11)  # past shards.REQUEUE_AFTER


@pytest.fixture
def small_shards(settings):
    settings.DIGEST_PLAN_SHARD_SIZE = 2


def _open(day, n_readers, subscriber_factory):
    readers = subscriber_factory.create_batch(n_readers)
    plan = editions.digest_plan_open(
        day=day, frequency="daily", subscriber_ids=[r.pk for r in readers]
    )
    assert plan is not None
    return plan, readers


def _sent_to(mailoutbox) -> Counter[str]:
    return Counter(address for message in mailoutbox for address in message.to)


def test_a_duplicated_shard_task_plans_and_sends_nothing_twice(
    subscriber_factory, papers, day, small_shards, mailoutbox, django_capture_on_commit_callbacks
):
    plan, readers = _open(day, 4, subscriber_factory)
    with django_capture_on_commit_callbacks(execute=True):
        for shard_id in editions.plan_shard_ids(plan):
            assert sending.digest_shard_plan_send(shard_id=shard_id) == 2
            assert sending.digest_shard_plan_send(shard_id=shard_id) == 0  # the duplicate
    assert Delivery.objects.count() == 4
    assert _sent_to(mailoutbox) == Counter(r.email for r in readers)


def test_a_shard_queued_again_after_it_finished_creates_nothing_twice(
    subscriber_factory, papers, day, small_shards, mailoutbox, django_capture_on_commit_callbacks
):
    plan, readers = _open(day, 3, subscriber_factory)
    with django_capture_on_commit_callbacks(execute=True):
        for shard_id in editions.plan_shard_ids(plan):
            sending.digest_shard_plan_send(shard_id=shard_id)
        # A requeue that raced with the shard's commit: the shard runs again from scratch.
        PlanShard.objects.update(status=PlanShard.Status.QUEUED)
        for shard_id in editions.plan_shard_ids(plan):
            assert sending.digest_shard_plan_send(shard_id=shard_id) == 0
    assert sorted(Delivery.objects.values_list("subscriber_id", flat=True)) == sorted(
        r.pk for r in readers
    )
    assert _sent_to(mailoutbox) == Counter(r.email for r in readers)


def test_a_shard_that_fails_midway_leaves_nothing_and_is_planned_again(
    subscriber_factory, papers, day, small_shards, monkeypatch, mailoutbox
):
    plan, _ = _open(day, 2, subscriber_factory)
    (shard_id,) = editions.plan_shard_ids(plan)
    insert = planning._insert_deliveries

    def insert_then_die(run, rows):
        insert(run, rows)
        raise SystemExit("worker lost")

    monkeypatch.setattr(planning, "_insert_deliveries", insert_then_die)
    with pytest.raises(SystemExit):
        sending.digest_shard_plan_send(shard_id=shard_id)
    monkeypatch.undo()
    assert not Delivery.objects.exists()  # the shard's transaction was rolled back
    assert editions.digest_shards_stale() == []  # too recent: its task may still run
    assert editions.digest_shards_stale(now=timezone.now() + LATER) == [shard_id]
    assert sending.digest_shard_plan_send(shard_id=shard_id) == 2
    assert Delivery.objects.count() == 2
    assert PlanShard.objects.get().requeued == 1


def test_the_days_ranker_is_built_once_for_all_the_shards(
    subscriber_factory, papers, day, small_shards, monkeypatch
):
    built = []
    init = ranker_module.Ranker.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(ranker_module.Ranker, "__init__", counting_init)
    shards._RANKERS.clear()
    plan, _ = _open(day, 6, subscriber_factory)
    for shard_id in editions.plan_shard_ids(plan):
        editions.digest_shard_plan(shard_id=shard_id)
    assert PlanShard.objects.count() == 3
    assert Delivery.objects.count() == 6
    assert len(built) == 1


def test_the_last_shard_finishes_the_plan_and_drops_its_ranker(
    subscriber_factory, papers, day, small_shards, django_capture_on_commit_callbacks
):
    plan, _ = _open(day, 3, subscriber_factory)
    first, last = editions.plan_shard_ids(plan)
    with django_capture_on_commit_callbacks(execute=True):
        editions.digest_shard_plan(shard_id=first)
    plan.refresh_from_db()
    assert plan.finished_at is None
    assert plan.ranker is not None
    with django_capture_on_commit_callbacks(execute=True):
        editions.digest_shard_plan(shard_id=last)
    plan.refresh_from_db()
    assert plan.finished_at is not None
    assert plan.ranker is None
    run = DigestRun.objects.get()
    assert run.built_at is not None
    assert run.planned_count == 3


def test_a_cancelled_edition_plans_nothing_in_its_pending_shards(
    subscriber_factory, papers, day, small_shards
):
    plan, _ = _open(day, 2, subscriber_factory)
    DigestRun.objects.update(status=DigestRun.Status.CANCELLED)
    (shard_id,) = editions.plan_shard_ids(plan)
    assert editions.digest_shard_plan(shard_id=shard_id) is not None
    assert not Delivery.objects.exists()
    assert PlanShard.objects.get().status == PlanShard.Status.DONE


def test_a_reader_who_left_before_their_shard_ran_is_not_planned(
    subscriber_factory, papers, day, small_shards
):
    plan, (stays, leaves) = _open(day, 2, subscriber_factory)
    leaves.status = leaves.Status.UNSUBSCRIBED
    leaves.save()
    (shard_id,) = editions.plan_shard_ids(plan)
    editions.digest_shard_plan(shard_id=shard_id)
    assert list(Delivery.objects.values_list("subscriber_id", flat=True)) == [stays.pk]


def test_overlapping_ticks_plan_and_send_each_reader_once(
    subscriber_factory, papers, day, small_shards, mailoutbox, django_capture_on_commit_callbacks
):
    readers = subscriber_factory.create_batch(5, send_hour=7)
    # The 8:00 tick is still planning when the 8:15 tick opens the same readers.
    with time_machine.travel(at_utc(8, 0), tick=False):
        (first,) = editions.digest_plan_due()
    with time_machine.travel(at_utc(8, 15), tick=False):
        (second,) = editions.digest_plan_due()
    assert len(first.shard_ids) == len(second.shard_ids) == 3
    order = [x for pair in zip(second.shard_ids, first.shard_ids, strict=True) for x in pair]
    with django_capture_on_commit_callbacks(execute=True):
        for shard_id in order:
            sending.digest_shard_plan_send(shard_id=shard_id)
    assert Counter(Delivery.objects.values_list("subscriber_id", flat=True)) == Counter(
        r.pk for r in readers
    )
    assert _sent_to(mailoutbox) == Counter(r.email for r in readers)
    assert EditionPlan.objects.count() == 2


def test_send_digests_queue_plans_in_shards_and_sends(
    subscriber_factory, papers, day, small_shards, mailoutbox, django_capture_on_commit_callbacks
):
    readers = subscriber_factory.create_batch(3)
    with django_capture_on_commit_callbacks(execute=True):
        runs = sending.digest_send_day(day=day, inline=False)
    assert [frequency for frequency, _ in runs] == ["daily", "weekly"]
    assert PlanShard.objects.filter(status=PlanShard.Status.DONE).count() == 2
    assert _sent_to(mailoutbox) == Counter(r.email for r in readers)
    assert DigestRun.objects.get().status == DigestRun.Status.DONE


# A real worker death on PostgreSQL: a process planning a shard is SIGKILLed while its
# transaction is open (deliveries inserted, not committed).
_DIE_MIDWAY = """
import sys, time, django
django.setup()
from digest.editions import planning, shards
insert = planning._insert_deliveries
def insert_then_hang(run, rows):
    insert(run, rows)
    print("inserted", flush=True)
    time.sleep(120)
planning._insert_deliveries = insert_then_hang
shards.digest_shard_plan(shard_id=int(sys.argv[1]))
"""


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.timeout(120)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL (CI)")
def test_a_shard_whose_worker_is_killed_is_planned_again_without_duplicates(
    transactional_db, subscriber_factory, papers, day, small_shards
):
    plan, readers = _open(day, 2, subscriber_factory)
    (shard_id,) = editions.plan_shard_ids(plan)
    env = {**os.environ, "DATABASE_URL": _database_url(), "PYTHONPATH": str(settings.BASE_DIR)}
    worker = subprocess.Popen(
        [sys.executable, "-c", _DIE_MIDWAY, str(shard_id)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "inserted"
        later = timezone.now() + LATER
        # Being planned (locked): neither requeued nor planned by a duplicate task.
        assert editions.digest_shards_stale(now=later) == []
        assert editions.digest_shard_plan(shard_id=shard_id) is None
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    for _ in range(50):  # PostgreSQL notices the dead connection and rolls it back
        if editions.digest_shards_stale(now=later) == [shard_id]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the dead worker's shard was never released")
    assert not Delivery.objects.exists()
    planned = editions.digest_shard_plan(shard_id=shard_id)
    assert planned is not None
    assert planned.planned == 2
    assert sorted(Delivery.objects.values_list("subscriber_id", flat=True)) == sorted(
        r.pk for r in readers
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL (CI)")
def test_the_shards_of_a_plan_are_planned_at_the_same_time(
    transactional_db, subscriber_factory, papers, day, small_shards, monkeypatch
):
    plan, _ = _open(day, 4, subscriber_factory)
    first, second = editions.plan_shard_ids(plan)
    holding, release = threading.Event(), threading.Event()
    plan_readers = shards._plan_readers

    def slow_first_shard(run, plan, shard):
        if shard.pk == first:  # another worker, still planning the first shard
            holding.set()
            release.wait(30)
        return plan_readers(run, plan, shard)

    monkeypatch.setattr(shards, "_plan_readers", slow_first_shard)

    def another_worker():
        try:
            editions.digest_shard_plan(shard_id=first)
        finally:
            connections.close_all()

    other = threading.Thread(target=another_worker)
    other.start()
    try:
        assert holding.wait(30)
        planned = editions.digest_shard_plan(shard_id=second)
        assert planned is not None  # neither blocked nor skipped by the first shard's locks
        assert planned.planned == 2
        assert editions.digest_shard_plan(shard_id=first) is None  # being planned: skipped
    finally:
        release.set()
        other.join()
    assert Delivery.objects.count() == 4


def test_the_requeue_task_queues_and_plans_a_stale_shard(
    subscriber_factory, papers, day, small_shards, mailoutbox, django_capture_on_commit_callbacks
):
    from digest.tasks import requeue_plan_shards

    _, readers = _open(day, 2, subscriber_factory)
    with time_machine.travel(timezone.now() + LATER, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert requeue_plan_shards.delay().get() == 1  # its first task was lost
        assert requeue_plan_shards.delay().get() == 0  # planned since
    assert Delivery.objects.count() == 2
    assert _sent_to(mailoutbox) == Counter(r.email for r in readers)
    assert "requeue-plan-shards" in settings.CELERY_BEAT_SCHEDULE


def test_a_shard_renders_from_rows_exactly_what_the_readers_get(
    subscriber_factory, papers, day, small_shards
):
    from digest.editions.selectors import delivery_render_rows
    from digest.emails import delivery_render, renderer_for

    plan, readers = _open(day, 3, subscriber_factory)
    for shard_id in editions.plan_shard_ids(plan):
        editions.digest_shard_plan(shard_id=shard_id)
    run = DigestRun.objects.get()
    renderer = renderer_for(run)
    rows = list(
        delivery_render_rows(
            run_id=run.pk,
            first_id=readers[0].pk,
            last_id=readers[-1].pk,
            readers={readers[0].pk, readers[2].pk},
        )
    )
    assert [reader.pk for _, reader, _ in rows] == [readers[0].pk, readers[2].pk]
    for delivery_id, reader, picks in rows:
        expected = delivery_render(delivery=Delivery.objects.get(pk=delivery_id))
        got = renderer.render(delivery_id=delivery_id, subscriber=reader, picks=picks)
        assert got == expected


def test_the_readers_due_on_a_day_are_those_scheduling_says(subscriber_factory, day):
    from digest.editions import scheduling
    from subscriptions.models import Subscriber

    other_weekday = (day.weekday() + 1) % 7
    for paused in (None, day - timedelta(days=1), day, day + timedelta(days=1)):
        subscriber_factory(paused_until=paused)
        subscriber_factory(paused_until=paused, frequency="weekly", weekday=day.weekday())
        subscriber_factory(paused_until=paused, frequency="weekly", weekday=other_weekday)
    subscriber_factory(status=Subscriber.Status.PENDING)
    subscriber_factory(status=Subscriber.Status.UNSUBSCRIBED)
    subscriber_factory(deleted_at=timezone.now())
    readers = list(Subscriber.objects.order_by("pk"))
    for frequency in ("daily", "weekly"):
        expected = [
            r.pk
            for r in readers
            if r.status == Subscriber.Status.ACTIVE
            and r.deleted_at is None
            and r.frequency == frequency
            and scheduling.is_due_on(r, day)
        ]
        assert editions.due_on_ids(day=day, frequency=frequency) == expected
        assert len(expected) == 2
