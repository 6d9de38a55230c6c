"""Digest runs: build an edition, review it, send each email exactly once, track it.

The life of an edition (DigestRun, one per date and frequency):
building -> (awaiting_review -> approved, when DIGEST_REQUIRE_APPROVAL) -> sending -> done,
or cancelled; a run whose error rate passes DIGEST_MAX_ERROR_RATE pauses itself.

Exactly once. Each email is a Delivery row, unique per (run, subscriber), so planning
twice plans nothing new. A delivery is claimed with a conditional UPDATE (planned ->
sending, only while the subscriber is active and the run is sendable) right before its
email is sent, with a Message-ID fixed at claim time; after the send it is marked sent
with the ESP's message id. A retried or duplicated chunk task finds nothing planned and
sends nothing. A worker killed mid-send leaves at most the one row it was sending in
"sending"; the sweeper finds such rows after DIGEST_SENDING_TIMEOUT_MINUTES and, unless
an ESP event has already told us what happened, flags them for reconciliation and
re-queues them with the SAME Message-ID (DIGEST_RECONCILE_RESEND, on by default: a
duplicate is possible for that message only, and mailbox providers that de-duplicate on
Message-ID drop it) or marks them failed for the admin to decide (setting off).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.utils import timezone

from digest import scheduling
from digest.emails import RenderedDigest, message_id_for, paper_snapshot, renderer_for
from digest.models import Delivery, DigestRun, Paper, TrackingEvent
from subscriptions.models import Subscriber

logger = logging.getLogger(__name__)

Status = Delivery.Status
RunStatus = DigestRun.Status
# Runs whose planned deliveries may be claimed.
SENDABLE = (RunStatus.APPROVED, RunStatus.SENDING)
# Runs that still accept new subscribers for the edition.
OPEN = (RunStatus.BUILDING, RunStatus.AWAITING_REVIEW, *SENDABLE, RunStatus.PAUSED, RunStatus.DONE)
# Every status that means the message left us.
LEFT = (
    Status.SENT,
    Status.DELIVERED,
    Status.OPENED,
    Status.CLICKED,
    Status.BOUNCED,
    Status.COMPLAINED,
)
PLAN_BATCH = 5000
NO_REPEAT_DAYS = 60
ERROR_RATE_MIN_SAMPLE = 20
TICK_LOCK_SECONDS = 14 * 60


@dataclass
class ChunkResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    run_ids: set[int] = field(default_factory=set)


# --- Building -----------------------------------------------------------------------


def digest_run_build(
    *,
    day: date,
    frequency: str = scheduling.DAILY,
    subscribers: Sequence[Subscriber] | None = None,
) -> DigestRun | None:
    """Build (or extend) the edition of ``day``: rank and plan one delivery per subscriber.

    ``subscribers`` defaults to every active subscriber due on ``day`` whatever their
    hour; those who already have a delivery in the edition are left alone. Returns None
    (and creates no run) when there are no papers or nobody is due.
    """
    if subscribers is None:
        subscribers = subscriber_list_due_on(day=day, frequency=frequency)
    papers = _papers_for(day=day, frequency=frequency)
    if not papers or not subscribers:
        return DigestRun.objects.filter(edition_date=day, frequency=frequency).first()
    run, _ = DigestRun.objects.get_or_create(
        edition_date=day,
        frequency=frequency,
        defaults={"week": scheduling.iso_week(day) if frequency == scheduling.WEEKLY else ""},
    )
    with transaction.atomic():
        # One builder per edition at a time (two beat processes, a tick and a command).
        run = DigestRun.objects.select_for_update().get(pk=run.pk)
        if run.status not in OPEN:
            return run
        _snapshot_papers(run, papers)
        _plan(run=run, papers=papers, subscribers=subscribers)
        _finish_build(run)
    return run


def subscriber_list_due_on(*, day: date, frequency: str) -> list[Subscriber]:
    subscribers = _active_subscribers().filter(frequency=frequency)
    return [sub for sub in subscribers if scheduling.is_due_on(sub, day)]


def _active_subscribers() -> Any:
    return Subscriber.objects.filter(
        status=Subscriber.Status.ACTIVE, deleted_at__isnull=True
    ).order_by("pk")


def _papers_for(*, day: date, frequency: str) -> list[Paper]:
    from digest import selectors

    if frequency == scheduling.WEEKLY:
        week_start = scheduling.weekly_window(day)
        return list(selectors.paper_list_for_week(week_start=week_start))
    return list(selectors.paper_list_for_day(day=day))


def _snapshot_papers(run: DigestRun, papers: Iterable[Paper]) -> None:
    # Papers already in the snapshot keep their values: earlier emails were rendered
    # from them.
    new = {p.arxiv_id: paper_snapshot(p) for p in papers if p.arxiv_id not in run.papers}
    if new:
        run.papers = {**run.papers, **new}
        run.save(update_fields=["papers"])


def _plan(*, run: DigestRun, papers: list[Paper], subscribers: Sequence[Subscriber]) -> int:
    from digest import ranking, ranking_inputs

    already = set(Delivery.objects.filter(run=run).values_list("subscriber_id", flat=True))
    todo = [sub for sub in subscribers if sub.pk not in already]
    candidates = [ranking_inputs.candidate_from_paper(p, today=run.edition_date) for p in papers]
    planned = 0
    for batch in _batches(todo, PLAN_BATCH):
        exclude = _already_sent(run=run, subscriber_ids={sub.pk for sub in batch})
        profiles = ranking_inputs.profiles_for_subscribers(batch, exclude=exclude)
        liked = {aid for p in profiles for aid in (*p.liked, *p.disliked)}
        reference = ranking_inputs.reference_candidates(sorted(liked), today=run.edition_date)
        picks = ranking.rank_for_all(candidates, profiles, reference=reference)
        rows = [
            (sub.pk, _picks_snapshot(sub_picks))
            for sub, sub_picks in zip(batch, picks, strict=True)
            if sub_picks
        ]
        _insert_deliveries(run, rows)
        planned += len(rows)
    return planned


def _insert_deliveries(run: DigestRun, rows: list[tuple[int, list[dict[str, Any]]]]) -> None:
    """Insert planned deliveries; the unique (run, subscriber) constraint is the last word.

    On PostgreSQL through COPY into a temporary table, then INSERT .. ON CONFLICT DO
    NOTHING: bulk_create's client-side quoting of 100,000 JSON values takes longer than
    ranking them.
    """
    if connection.vendor != "postgresql":
        objs = [Delivery(run=run, subscriber_id=pk, picks=picks) for pk, picks in rows]
        Delivery.objects.bulk_create(objs, batch_size=2000, ignore_conflicts=True)
        return
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS digest_new_delivery"
            " (subscriber_id bigint, picks jsonb) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            "COPY digest_new_delivery (subscriber_id, picks) FROM STDIN"
        ) as copy:
            for pk, picks in rows:
                copy.write_row((pk, json.dumps(picks)))
        cursor.execute(
            f"INSERT INTO {table} (run_id, subscriber_id, picks, status, message_id,"
            " esp_message_id, attempts, last_error, needs_reconciliation, created_at)"
            " SELECT %s, subscriber_id, picks, %s, '', '', 0, '', false, %s"
            " FROM digest_new_delivery ON CONFLICT DO NOTHING",
            [run.pk, Status.PLANNED, timezone.now()],
        )
        cursor.execute("TRUNCATE digest_new_delivery")


def _picks_snapshot(picks: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"arxiv_id": pick.arxiv_id, "score": round(float(pick.score), 4), "reason": pick.reason}
        for pick in picks
    ]


def _already_sent(*, run: DigestRun, subscriber_ids: set[int]) -> dict[int, set[str]]:
    """Papers each subscriber already got (no repeats), from recent deliveries' picks."""
    since = run.edition_date - timedelta(days=NO_REPEAT_DAYS)
    rows = (
        Delivery.objects.filter(run__edition_date__gte=since)
        .exclude(run=run)
        .exclude(status__in=[Status.SKIPPED, Status.FAILED])
        .values_list("subscriber_id", "picks")
        .order_by()
    )
    sent: dict[int, set[str]] = defaultdict(set)
    for subscriber_id, picks in rows.iterator(chunk_size=5000):
        if subscriber_id in subscriber_ids:
            sent[subscriber_id].update(pick["arxiv_id"] for pick in picks)
    return dict(sent)


def _finish_build(run: DigestRun) -> None:
    now = timezone.now()
    run.built_at = run.built_at or now
    if run.status == RunStatus.BUILDING:
        needs_review = settings.DIGEST_REQUIRE_APPROVAL
        run.status = RunStatus.AWAITING_REVIEW if needs_review else RunStatus.APPROVED
    run.save(update_fields=["built_at", "status"])
    digest_run_refresh(run_id=run.pk)


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- The beat tick ------------------------------------------------------------------


def digest_send_due(*, now: datetime | None = None) -> list[int]:
    """One beat tick: build and queue the editions of everyone whose hour has come.

    A lock in the shared cache (Redis) keyed by the 15-minute slot stops two beat
    processes, or a retried tick, from starting the same tick twice; the unique
    deliveries and the claims make it harmless even without the lock.
    """
    now = now or timezone.now()
    slot = int(now.timestamp()) // (15 * 60)
    if not cache.add(f"digest:tick:{slot}", "1", timeout=TICK_LOCK_SECONDS):
        logger.info("tick %s already started elsewhere", slot)
        return []
    run_ids = []
    for (frequency, day), subscribers in _due_groups(now=now).items():
        run = digest_run_build(day=day, frequency=frequency, subscribers=subscribers)
        if run is None:
            continue
        if run.status in (*SENDABLE, RunStatus.DONE):
            digest_run_send(run=run)
        run_ids.append(run.pk)
    return run_ids


def _due_groups(*, now: datetime) -> dict[tuple[str, date], list[Subscriber]]:
    from digest import selectors

    subscribers = list(_active_subscribers())
    recent = (
        Delivery.objects.filter(
            run__frequency=scheduling.DAILY, created_at__gte=now - timedelta(days=2)
        )
        .values("subscriber_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    last_daily = {row["subscriber_id"]: row["last"] for row in recent}
    due = scheduling.due_at(
        subscribers, at=now, trending_day=selectors.latest_trending_day(), last_daily=last_daily
    )
    by_id = {sub.pk: sub for sub in subscribers}
    groups: dict[tuple[str, date], list[Subscriber]] = defaultdict(list)
    for item in due:
        groups[(item.frequency, item.edition_date)].append(by_id[item.subscriber_id])
    return groups


# --- Sending ------------------------------------------------------------------------


def digest_run_send(*, run: DigestRun, inline: bool = False) -> int:
    """Start (or continue) sending an approved run: chunks of planned deliveries.

    Queued as Celery tasks after the transaction commits, unless ``inline`` (the
    support command's default), which sends the chunks in this process.
    """
    DigestRun.objects.filter(pk=run.pk, status__in=[RunStatus.APPROVED, RunStatus.DONE]).update(
        status=RunStatus.SENDING, sending_started_at=timezone.now()
    )
    run.refresh_from_db()
    if run.status != RunStatus.SENDING:
        return 0
    ids = list(
        Delivery.objects.filter(run=run, status=Status.PLANNED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chunks = list(_batches(ids, settings.DIGEST_SEND_CHUNK_SIZE))
    for chunk in chunks:
        if inline:
            delivery_send_chunk(delivery_ids=list(chunk))
        else:
            _enqueue(list(chunk))
    if not ids:
        digest_run_refresh(run_id=run.pk)
    return len(chunks)


def _enqueue(delivery_ids: list[int]) -> None:
    from digest.tasks.send import send_deliveries

    send_deliveries.delay_on_commit(delivery_ids)


def delivery_send_chunk(*, delivery_ids: Sequence[int]) -> ChunkResult:
    """Send the planned deliveries among ``delivery_ids``, each at most once.

    Safe to run twice, or in two workers at once: only a successful claim sends.
    One email connection is reused for the whole chunk.
    """
    result = ChunkResult()
    deliveries = list(
        Delivery.objects.filter(pk__in=delivery_ids, status=Status.PLANNED)
        .select_related("subscriber")
        .order_by("pk")
    )
    if not deliveries:
        return result
    # Each run once per chunk: its papers snapshot is large, not for joining to every row.
    runs = DigestRun.objects.in_bulk({d.run_id for d in deliveries})
    for delivery in deliveries:
        delivery.run = runs[delivery.run_id]
    mail = get_connection()
    _fast_commits(True)
    try:
        for delivery in deliveries:
            _send_one(delivery, mail, result)
    finally:
        mail.close()
        _fast_commits(False)
    for run_id in result.run_ids:
        digest_run_refresh(run_id=run_id)
    return result


def _fast_commits(on: bool) -> None:
    """Two commits per email (claim, sent) would each wait for a WAL flush on PostgreSQL.

    With DIGEST_SEND_ASYNC_COMMIT (off by default) the sending session does not wait: a
    worker crash loses nothing (the commit is in PostgreSQL's memory); only a crash of
    the database server itself could forget the last fraction of a second of claims,
    which the sweeper would then treat like a dead worker's (same Message-ID resent).
    """
    if connection.vendor != "postgresql" or not settings.DIGEST_SEND_ASYNC_COMMIT:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO " + ("OFF" if on else "DEFAULT"))


def _send_one(delivery: Delivery, connection: Any, result: ChunkResult) -> None:
    result.run_ids.add(delivery.run_id)
    _throttle()
    if not delivery_claim(delivery=delivery):
        result.skipped += _skip_if_unsendable(delivery)
        return
    try:
        message = renderer_for(delivery.run).message(
            delivery_id=delivery.pk,
            message_id=delivery.message_id,
            subscriber=delivery.subscriber,
            picks=delivery.picks,
            connection=connection,
        )
        message.send()
    except Exception as exc:  # any ESP/SMTP error: record it, go on with the chunk
        logger.warning("delivery %s failed: %s", delivery.pk, exc)
        Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
            status=Status.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        result.failed += 1
        _reset_connection(connection)
        return
    _mark_sent(delivery, message)
    result.sent += 1


def delivery_claim(*, delivery: Delivery) -> bool:
    """planned -> sending, only for an active subscriber in a sendable run.

    The WHERE is evaluated on the row itself, so of two workers racing for the same
    delivery exactly one updates it (PostgreSQL re-checks the condition after the lock).
    """
    now = timezone.now()
    message_id = message_id_for(run_id=delivery.run_id, delivery_id=delivery.pk)
    claimed = (
        Delivery.objects.filter(pk=delivery.pk, status=Status.PLANNED)
        .filter(Exists(_active_subscriber_ref()), Exists(_sendable_run_ref()))
        .update(
            status=Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            message_id=message_id,
            last_error="",
        )
    )
    delivery.message_id = message_id
    return claimed == 1


def _active_subscriber_ref() -> Any:
    return Subscriber.objects.filter(
        pk=OuterRef("subscriber_id"), status=Subscriber.Status.ACTIVE, deleted_at__isnull=True
    )


def _sendable_run_ref() -> Any:
    return DigestRun.objects.filter(pk=OuterRef("run_id"), status__in=SENDABLE)


def _skip_if_unsendable(delivery: Delivery) -> int:
    # The claim failed: someone else has it, the run stopped, or the subscriber left.
    # Only the last is final for this delivery.
    return (
        Delivery.objects.filter(pk=delivery.pk, status=Status.PLANNED)
        .exclude(Exists(_active_subscriber_ref()))
        .update(status=Status.SKIPPED, last_error="unsubscribed or suppressed before sending")
    )


def _mark_sent(delivery: Delivery, message: Any) -> None:
    status = getattr(message, "anymail_status", None)
    esp_id = (getattr(status, "message_id", None) if status else None) or delivery.message_id
    Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        status=Status.SENT, esp_message_id=str(esp_id)[:255], sent_at=timezone.now()
    )


def _reset_connection(connection: Any) -> None:
    # A broken SMTP session fails every later message; start a fresh one.
    try:
        connection.close()
    except Exception:
        logger.debug("closing a broken connection failed", exc_info=True)


def _throttle() -> None:
    """Global send rate shared by all workers: a fixed-window counter in the cache."""
    rate = settings.DIGEST_SEND_RATE_PER_SECOND
    if rate <= 0:
        return
    window = max(1.0, 1.0 / rate)
    allowed = max(1, int(rate * window))
    while True:
        slot = int(time.time() / window)
        key = f"digest:send-rate:{slot}"
        cache.add(key, 0, timeout=int(window) + 5)
        try:
            if cache.incr(key) <= allowed:
                return
        except ValueError:  # expired between add and incr
            continue
        time.sleep(max(0.0, (slot + 1) * window - time.time()))


def digest_run_refresh(*, run_id: int) -> DigestRun:
    """Recount a run from its deliveries; finish it, or pause it on too many errors."""
    counts = dict(
        Delivery.objects.filter(run_id=run_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    n = lambda *statuses: sum(counts.get(s, 0) for s in statuses)  # noqa: E731
    values = {
        "planned_count": sum(counts.values()),
        "rendered_count": sum(counts.values()) - n(Status.PLANNED, Status.SKIPPED),
        "sent_count": n(*LEFT),
        "failed_count": n(Status.FAILED),
        "delivered_count": n(Status.DELIVERED, Status.OPENED, Status.CLICKED),
        "opened_count": n(Status.OPENED, Status.CLICKED),
        "clicked_count": n(Status.CLICKED),
        "bounced_count": n(Status.BOUNCED),
        "complained_count": n(Status.COMPLAINED),
        "skipped_count": n(Status.SKIPPED),
    }
    DigestRun.objects.filter(pk=run_id).update(**values)
    attempted = values["sent_count"] + values["failed_count"]
    if (
        attempted >= ERROR_RATE_MIN_SAMPLE
        and values["failed_count"] / attempted > settings.DIGEST_MAX_ERROR_RATE
    ):
        DigestRun.objects.filter(pk=run_id, status=RunStatus.SENDING).update(
            status=RunStatus.PAUSED,
            note=f"Paused: {values['failed_count']} of {attempted} sends failed.",
        )
    elif n(Status.PLANNED, Status.SENDING) == 0:
        DigestRun.objects.filter(pk=run_id, status=RunStatus.SENDING).update(
            status=RunStatus.DONE, finished_at=timezone.now()
        )
    return DigestRun.objects.get(pk=run_id)


# --- Review and admin actions -------------------------------------------------------


def digest_run_approve(*, run: DigestRun, user: str = "", inline: bool = False) -> DigestRun:
    """Approve a run awaiting review (or resume a paused one) and start sending."""
    updated = DigestRun.objects.filter(
        pk=run.pk, status__in=[RunStatus.AWAITING_REVIEW, RunStatus.PAUSED]
    ).update(status=RunStatus.APPROVED, approved_at=timezone.now(), approved_by=user[:150])
    if updated:
        digest_run_send(run=run, inline=inline)
    run.refresh_from_db()
    return run


def digest_run_cancel(*, run: DigestRun, user: str = "") -> DigestRun:
    DigestRun.objects.filter(pk=run.pk).exclude(status=RunStatus.DONE).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now(), note=f"Cancelled by {user}"
    )
    Delivery.objects.filter(run=run, status=Status.PLANNED).update(
        status=Status.SKIPPED, last_error="run cancelled"
    )
    return digest_run_refresh(run_id=run.pk)


def delivery_resend(*, delivery: Delivery, inline: bool = False) -> bool:
    """Send one delivery again (admin): back to planned and queued; never while sending."""
    return _requeue(Delivery.objects.filter(pk=delivery.pk), run_id=delivery.run_id, inline=inline)


def digest_run_resend_failed(*, run: DigestRun, inline: bool = False) -> int:
    ids = list(Delivery.objects.filter(run=run, status=Status.FAILED).values_list("pk", flat=True))
    _requeue(Delivery.objects.filter(pk__in=ids), run_id=run.pk, inline=inline)
    return len(ids)


def _requeue(deliveries: Any, *, run_id: int, inline: bool) -> bool:
    ids = list(deliveries.exclude(status=Status.SENDING).values_list("pk", flat=True))
    if not ids:
        return False
    Delivery.objects.filter(pk__in=ids).update(status=Status.PLANNED, needs_reconciliation=False)
    DigestRun.objects.filter(pk=run_id, status__in=[RunStatus.DONE, RunStatus.APPROVED]).update(
        status=RunStatus.SENDING
    )
    for chunk in _batches(ids, settings.DIGEST_SEND_CHUNK_SIZE):
        if inline:
            delivery_send_chunk(delivery_ids=list(chunk))
        else:
            _enqueue(list(chunk))
    return True


def delivery_render(*, delivery: Delivery) -> RenderedDigest:
    """Exactly what this subscriber got (or will get): from the run's snapshot."""
    return renderer_for(delivery.run).render(
        delivery_id=delivery.pk, subscriber=delivery.subscriber, picks=delivery.picks
    )


def delivery_send_test_copy(*, delivery: Delivery, to: str) -> None:
    """A subscriber's email, sent to the admin; no state changes, no tracking metadata."""
    message = renderer_for(delivery.run).message(
        delivery_id=delivery.pk,
        message_id=f"<test.{delivery.pk}.{int(time.time())}@{_domain()}>",
        subscriber=delivery.subscriber,
        picks=delivery.picks,
    )
    message.to = [to]
    message.subject = f"[Test copy for {delivery.subscriber.email}] {message.subject}"
    message.metadata = {"test_copy": "1"}  # type: ignore[attr-defined]
    message.send()


def _domain() -> str:
    from digest.emails import message_id_domain

    return message_id_domain()


# --- Sweeper ------------------------------------------------------------------------


def delivery_sweep_stuck(*, now: datetime | None = None, timeout: timedelta | None = None) -> int:
    """Reconcile deliveries left in "sending" by a dead worker; re-queue orphaned chunks."""
    now = now or timezone.now()
    timeout = timeout if timeout is not None else _sending_timeout()
    cutoff = now - timeout
    stuck = Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
    note = "worker lost while sending; Message-ID kept so the ESP/admin can tell if it left"
    if settings.DIGEST_RECONCILE_RESEND:
        swept = stuck.update(status=Status.PLANNED, needs_reconciliation=True, last_error=note)
    else:
        swept = stuck.update(status=Status.FAILED, needs_reconciliation=True, last_error=note)
    for run in DigestRun.objects.filter(status=RunStatus.SENDING):
        _requeue_orphans(run, cutoff=cutoff)
    return swept


def _sending_timeout() -> timedelta:
    return timedelta(minutes=settings.DIGEST_SENDING_TIMEOUT_MINUTES)


def _requeue_orphans(run: DigestRun, *, cutoff: datetime) -> None:
    # Planned rows with no claim in the run for a whole timeout: their chunk task died
    # with its worker (Redis only re-delivers after the visibility timeout). Duplicate
    # chunk tasks are harmless: claims decide.
    recent_claims = Delivery.objects.filter(run=run, claimed_at__gte=cutoff).exists()
    started = run.sending_started_at or run.created_at
    if recent_claims or started >= cutoff:
        return
    ids = list(
        Delivery.objects.filter(run=run, status=Status.PLANNED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for chunk in _batches(ids, settings.DIGEST_SEND_CHUNK_SIZE):
        _enqueue(list(chunk))
    if not ids:
        digest_run_refresh(run_id=run.pk)


# --- Daily chart --------------------------------------------------------------------


def delivery_daily_stats(*, days: int = 14, today: date | None = None) -> list[dict[str, Any]]:
    """Per day (of sending): sent / delivered / opened / clicked / bounced."""
    today = today or timezone.localdate()
    since = today - timedelta(days=days - 1)
    rows = (
        Delivery.objects.filter(sent_at__date__gte=since)
        .values("sent_at__date")
        .annotate(
            sent=Count("pk"),
            delivered=Count(
                "pk", filter=Q(status__in=[Status.DELIVERED, Status.OPENED, Status.CLICKED])
            ),
            opened=Count("pk", filter=Q(status__in=[Status.OPENED, Status.CLICKED])),
            clicked=Count("pk", filter=Q(status=Status.CLICKED)),
            bounced=Count("pk", filter=Q(status__in=[Status.BOUNCED, Status.COMPLAINED])),
        )
        .order_by("sent_at__date")
    )
    by_day = {row["sent_at__date"]: row for row in rows}
    empty = {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "bounced": 0}
    return [
        {
            "day": since + timedelta(days=i),
            **{k: by_day.get(since + timedelta(days=i), empty)[k] for k in empty},
        }
        for i in range(days)
    ]


# --- Tracking (ESP webhooks) --------------------------------------------------------

# How far along a delivery is; an event only ever moves it forward (a late "delivered"
# after an "opened" changes nothing).
_PROGRESS = {
    Status.SENT: 1,
    Status.DELIVERED: 2,
    Status.OPENED: 3,
    Status.CLICKED: 4,
    Status.BOUNCED: 5,
    Status.COMPLAINED: 6,
}
_EVENT_STATUS = {
    "delivered": Status.DELIVERED,
    "opened": Status.OPENED,
    "clicked": Status.CLICKED,
    "bounced": Status.BOUNCED,
    "complained": Status.COMPLAINED,
}
_TIMESTAMP_FIELD = {
    Status.DELIVERED: "delivered_at",
    Status.OPENED: "opened_at",
    Status.CLICKED: "clicked_at",
    Status.BOUNCED: "bounced_at",
}


def tracking_event_record(
    *,
    event_id: str,
    event_type: str,
    recipient: str,
    metadata: dict[str, Any],
    message_id: str,
    esp_event: Any,
    occurred_at: datetime | None,
) -> TrackingEvent | None:
    """Store an ESP event once; None when it was seen before (ESPs retry webhooks)."""
    event, created = TrackingEvent.objects.get_or_create(
        event_id=event_id[:255],
        defaults={
            "event_type": event_type[:32],
            "delivery": _delivery_for(metadata=metadata, message_id=message_id),
            "recipient": (recipient or "")[:254],
            "esp_event": esp_event if isinstance(esp_event, dict | list) else {},
            "occurred_at": occurred_at,
        },
    )
    return event if created else None


def _delivery_for(*, metadata: dict[str, Any], message_id: str) -> Delivery | None:
    delivery_id = str(metadata.get("delivery_id", ""))
    if delivery_id.isdigit():
        return Delivery.objects.filter(pk=int(delivery_id)).first()
    if message_id:
        return Delivery.objects.filter(
            Q(esp_message_id=message_id) | Q(message_id=message_id)
        ).first()
    return None


def tracking_event_process(*, tracking_event_id: int) -> None:
    """Apply one stored event: delivery status, suppression, run counts. Idempotent."""
    claimed = TrackingEvent.objects.filter(pk=tracking_event_id, processed_at__isnull=True).update(
        processed_at=timezone.now()
    )
    if not claimed:
        return
    event = TrackingEvent.objects.select_related("delivery__subscriber").get(pk=tracking_event_id)
    delivery = event.delivery
    if delivery is not None:
        _advance(delivery, _EVENT_STATUS.get(event.event_type), event.occurred_at)
    subscriber = delivery.subscriber if delivery else _subscriber_by_email(event.recipient)
    if subscriber is not None:
        _suppress_if_needed(subscriber, event)
    if delivery is not None:
        digest_run_refresh(run_id=delivery.run_id)


def _advance(delivery: Delivery, status: str | None, at: datetime | None) -> None:
    if status is None:
        return
    current = Delivery.objects.filter(pk=delivery.pk).values_list("status", flat=True).first()
    if _PROGRESS.get(status, 0) <= _PROGRESS.get(current, 0):
        return
    # The message left after all: an ESP event settles a delivery a dead worker left.
    values: dict[str, Any] = {"status": status, "needs_reconciliation": False}
    if stamp := _TIMESTAMP_FIELD.get(status):
        values[stamp] = at or timezone.now()
    Delivery.objects.filter(pk=delivery.pk, status=current).update(**values)


def _subscriber_by_email(email: str) -> Subscriber | None:
    return Subscriber.objects.filter(email__iexact=email).first() if email else None


def _is_soft_bounce(event: TrackingEvent) -> bool:
    esp = event.esp_event if isinstance(event.esp_event, dict) else {}
    bounce = esp.get("bounce") if isinstance(esp.get("bounce"), dict) else {}
    return (
        esp.get("Type") == "SoftBounce"  # Postmark
        or esp.get("severity") == "temporary"  # Mailgun
        or bounce.get("bounceType") == "Transient"  # Amazon SES
    )


def _suppress_if_needed(subscriber: Subscriber, event: TrackingEvent) -> None:
    from subscriptions.models import ConsentRecord
    from subscriptions.services import subscriber_unsubscribe

    method = ConsentRecord.UnsubscribeMethod
    if event.event_type == "complained":
        subscriber_unsubscribe(subscriber=subscriber, method=method.COMPLAINT)
    elif event.event_type == "bounced" and not _is_soft_bounce(event):
        subscriber_unsubscribe(subscriber=subscriber, method=method.BOUNCE)
    elif event.event_type == "bounced":
        Subscriber.objects.filter(pk=subscriber.pk).update(
            soft_bounce_count=F("soft_bounce_count") + 1
        )
        subscriber.refresh_from_db(fields=["soft_bounce_count"])
        if subscriber.soft_bounce_count >= settings.DIGEST_SOFT_BOUNCE_LIMIT:
            subscriber_unsubscribe(subscriber=subscriber, method=method.BOUNCE)
