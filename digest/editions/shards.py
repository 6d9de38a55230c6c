"""Sharded planning: an edition's due readers split into id ranges, each planned by a task.

The planning pass (``digest_plan_open``) does the per-day work once: the run and its
papers snapshot, and the Ranker (corpus, tf-idf, similarities, the readers' feedback
papers), pickled into the EditionPlan row. Each shard (``digest_shard_plan``) loads that
Ranker (once per worker process), reads its readers and writes their deliveries in one
transaction that holds the shard row's lock and marks it done:

- a duplicated or retried shard task finds the row locked (skipped) or done (nothing to
  do), and the unique (run, subscriber) with ON CONFLICT DO NOTHING is the last word;
- a worker that dies mid-shard rolls its transaction back, so nothing of the shard is
  written and the row is still queued: ``digest_shards_stale`` finds it (unlocked, not
  done, older than REQUEUE_AFTER) for the task to queue again;
- two overlapping ticks may both list a reader: whichever shard commits first plans
  them, the other skips them (already planned) or loses the insert race (no conflict).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from digest.editions import scheduling
from digest.editions.planning import (
    _papers_for,
    _snapshot_papers,
    edition_ranker,
    plan_readers,
)
from digest.editions.runs import RunStatus, digest_run_recount_soon, digest_run_refresh
from digest.models import Delivery, DigestRun, EditionPlan, PlanShard
from subscriptions.models import Subscriber

if TYPE_CHECKING:
    from digest.ranking import Ranker

REQUEUE_AFTER = timedelta(minutes=10)
READ_BATCH = 20_000
# Rankers unpickled in this process, by plan: a worker plans many shards of a plan.
_RANKERS: dict[UUID, Ranker] = {}
_RANKERS_KEPT = 2


class When(NamedTuple):
    """What scheduling reads of a reader: the tick streams these, not whole profiles."""

    pk: int
    frequency: str
    weekday: int
    send_hour: int
    timezone: str
    paused_until: date | None


def schedule_rows() -> Iterator[list[When]]:
    """Every sendable reader's scheduling fields, by id, in batches of READ_BATCH."""
    rows = (
        Subscriber.objects.sendable()
        .order_by("pk")
        .values_list("pk", "frequency", "weekday", "send_hour", "timezone", "paused_until")
    )
    batch: list[When] = []
    for row in rows.iterator(chunk_size=READ_BATCH):
        batch.append(When(*row))
        if len(batch) == READ_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def due_on_ids(*, day: date, frequency: str) -> list[int]:
    """Readers of ``frequency`` due on ``day`` whatever their hour (``send_digests``), by id.

    scheduling.is_due_on as SQL (a test holds them equal): the hour plays no part here,
    so PostgreSQL can tell, and the pass opens without streaming 1M readers' fields
    through Python while the workers wait for their first shard.
    """
    due = (
        Subscriber.objects.sendable()
        .filter(frequency=frequency)
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lt=day))  # is_paused
    )
    if frequency == scheduling.WEEKLY:
        due = due.filter(weekday=day.weekday())
    return list(due.order_by("pk").values_list("pk", flat=True))


def digest_plan_open(
    *, day: date, frequency: str, subscriber_ids: Sequence[int]
) -> EditionPlan | None:
    """Open a planning pass of the edition for these readers and cut it into shards.

    Nothing is ranked here: the Ranker is built and stored for the shards. None when
    there are no papers, nobody to plan, or the run no longer accepts readers.
    """
    from digest.ranking import inputs as ranking_inputs

    papers = _papers_for(day=day, frequency=frequency)
    if not papers or not subscriber_ids:
        return None
    run, _ = DigestRun.objects.get_or_create(
        edition_date=day,
        frequency=frequency,
        defaults={"week": scheduling.iso_week(day) if frequency == scheduling.WEEKLY else ""},
    )
    ids = sorted(set(subscriber_ids))
    feedback = ranking_inputs.feedback_by_subscriber(ids)
    ranker = edition_ranker(day=day, papers=papers, feedback=feedback)
    with transaction.atomic():
        run = DigestRun.objects.select_for_update().get(pk=run.pk)
        if run.status not in DigestRun.OPEN_STATUSES:
            return None
        _snapshot_papers(run, papers)
        shards = list(_cut(ids, settings.DIGEST_PLAN_SHARD_SIZE))
        plan = EditionPlan.objects.create(
            run=run, ranker=pickle.dumps(ranker, protocol=5), shard_count=len(shards)
        )
        PlanShard.objects.bulk_create(
            PlanShard(plan=plan, first_id=chunk[0], last_id=chunk[-1], subscriber_ids=chunk)
            for chunk in shards
        )
        _open_for_sending(run)
    return plan


def _cut(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _open_for_sending(run: DigestRun) -> None:
    # The shards send as soon as each is planned, so the run is approved (or waits for
    # review) from the start of the pass; built_at is set when its last shard is done.
    if run.status == RunStatus.BUILDING:
        needs_review = settings.DIGEST_REQUIRE_APPROVAL
        run.status = RunStatus.AWAITING_REVIEW if needs_review else RunStatus.APPROVED
        run.save(update_fields=["status"])


def plan_shard_ids(plan: EditionPlan) -> list[int]:
    return list(
        PlanShard.objects.filter(plan=plan).order_by("first_id").values_list("pk", flat=True)
    )


class PlannedShard(NamedTuple):
    run_id: int
    subscriber_ids: list[int]
    planned: int


def digest_shard_plan(*, shard_id: int) -> PlannedShard | None:
    """Plan one shard (rank its readers, write their deliveries), exactly once.

    Runs in one transaction with the shard row locked; None if another worker holds it
    or it is already done. Readers who stopped being sendable since the pass was
    opened, or who already have a delivery in the edition, are left out.
    """
    with transaction.atomic():
        shard = (
            # Only this row is locked: the other shards of the plan run at the same time.
            PlanShard.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=shard_id)
            .exclude(status=PlanShard.Status.DONE)
            .order_by()
            .first()
        )
        if shard is None:
            return None
        _commit_without_waiting()
        plan = EditionPlan.objects.defer("ranker").get(pk=shard.plan_id)
        run = DigestRun.objects.defer("papers").get(pk=plan.run_id)
        planned = 0
        if run.status in DigestRun.OPEN_STATUSES:
            planned = _plan_readers(run, plan, shard)
        shard.status = PlanShard.Status.DONE
        shard.planned_count = planned
        shard.finished_at = timezone.now()
        shard.save(update_fields=["status", "planned_count", "finished_at"])
        transaction.on_commit(lambda: _after_shard(plan.pk, run.pk))
    return PlannedShard(run.pk, list(shard.subscriber_ids), planned)


def _commit_without_waiting() -> None:
    """The shard's commit does not wait for its WAL flush (PostgreSQL, this transaction).

    A database crash may then forget the last shards' commits, but atomically: their
    rows go back to queued with their deliveries gone, and they are planned again.
    Anything durable that follows (a send's claim) flushes the WAL before it, shard's
    commit included.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _plan_readers(run: DigestRun, plan: EditionPlan, shard: PlanShard) -> int:
    from digest.ranking import inputs as ranking_inputs

    wanted = set(shard.subscriber_ids)
    in_range = Subscriber.objects.sendable().filter(pk__gte=shard.first_id, pk__lte=shard.last_id)
    already = set(
        Delivery.objects.filter(
            run=run, subscriber_id__gte=shard.first_id, subscriber_id__lte=shard.last_id
        ).values_list("subscriber_id", flat=True)
    )
    readers = [
        row
        for row in ranking_inputs.subscriber_inputs(in_range.order_by("pk"))
        if row.pk in wanted and row.pk not in already
    ]
    if not readers:
        return 0
    feedback = ranking_inputs.feedback_by_subscriber([row.pk for row in readers])
    return plan_readers(run=run, ranker=_ranker(plan), subscribers=readers, feedback=feedback)


def _ranker(plan: EditionPlan) -> Ranker:
    key = plan.token
    ranker = _RANKERS.get(key)
    if ranker is None:
        blob = EditionPlan.objects.filter(pk=plan.pk).values_list("ranker", flat=True).get()
        if blob is None:
            raise RuntimeError(f"plan {plan.pk} has no ranker: it was finished")
        # Our own database's bytes, written by digest_plan_open.
        ranker = pickle.loads(bytes(blob))
        while len(_RANKERS) >= _RANKERS_KEPT:
            _RANKERS.pop(next(iter(_RANKERS)))
        _RANKERS[key] = ranker
    return ranker


def _after_shard(plan_id: int, run_id: int) -> None:
    """Finish the plan if this was its last shard (exactly one of them does), else recount."""
    pending = PlanShard.objects.filter(plan_id=plan_id).exclude(status=PlanShard.Status.DONE)
    if pending.exists():
        digest_run_recount_soon(run_id=run_id)
        return
    now = timezone.now()
    if EditionPlan.objects.filter(pk=plan_id, finished_at__isnull=True).update(
        finished_at=now, ranker=None
    ):
        DigestRun.objects.filter(pk=run_id, built_at__isnull=True).update(built_at=now)
        digest_run_refresh(run_id=run_id)


def digest_shards_stale(*, now: datetime | None = None) -> list[int]:
    """Shards not done, not being planned (unlocked), of a pass opened REQUEUE_AFTER ago:
    their task died with its worker, or was lost. Counted as requeued; the caller queues
    them."""
    cutoff = (now or timezone.now()) - REQUEUE_AFTER
    with transaction.atomic():
        stale = list(
            PlanShard.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(plan__started_at__lt=cutoff)
            .exclude(status=PlanShard.Status.DONE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        _count_requeued(stale)
    return stale


def _count_requeued(ids: Iterable[int]) -> None:
    PlanShard.objects.filter(pk__in=list(ids)).update(requeued=F("requeued") + 1)
