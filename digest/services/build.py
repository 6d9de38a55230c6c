"""Build an edition: rank the day's papers for every due subscriber, plan one delivery each."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from digest import scheduling
from digest.emails import paper_snapshot
from digest.models import Delivery, DigestRun, Paper
from digest.services.common import OPEN, RunStatus, Status, batches, digest_run_refresh
from subscriptions.models import Subscriber

PLAN_BATCH = 5000
NO_REPEAT_DAYS = 60


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
    for batch in batches(todo, PLAN_BATCH):
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
