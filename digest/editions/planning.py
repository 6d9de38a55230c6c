"""Build an edition: rank the day's papers for every due subscriber, plan one delivery each."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from digest.editions import scheduling
from digest.editions.runs import RunStatus, Status, batches, digest_run_refresh
from digest.editions.snapshot import paper_snapshot
from digest.models import Delivery, DigestRun, Paper
from subscriptions.models import Subscriber

if TYPE_CHECKING:  # digest.ranking (scikit-learn) is imported only when a run is built
    from digest.ranking import Candidate, RankedColumns, Ranker
    from digest.ranking.inputs import RankedSubscriber, SubscriberInputs

PLAN_BATCH = 5000
NO_REPEAT_DAYS = 60


def digest_run_build(
    *,
    day: date,
    frequency: str = scheduling.DAILY,
    subscribers: Sequence[RankedSubscriber] | None = None,
) -> DigestRun | None:
    """Build (or extend) the edition of ``day``: rank and plan one delivery per subscriber.

    ``subscribers`` defaults to every active subscriber due on ``day`` whatever their
    hour; those who already have a delivery in the edition are left alone. Returns None
    (and creates no run) when there are no papers or nobody is due.
    """
    if subscribers is None:
        subscribers = _due_inputs(day=day, frequency=frequency)
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
        if run.status not in DigestRun.OPEN_STATUSES:
            return run
        _snapshot_papers(run, papers)
        _plan(run=run, papers=papers, subscribers=subscribers)
        _finish_build(run)
    return run


def due_subscriber_rows(*, frequency: str | None = None) -> list[SubscriberInputs]:
    """Every sendable reader (of one frequency, or all), by id, as the rows the ranker
    and the scheduler read: the one path of the beat tick and of ``send_digests``."""
    from digest.ranking.inputs import subscriber_inputs

    readers = _active_subscribers()
    if frequency is not None:
        readers = readers.filter(frequency=frequency)
    return subscriber_inputs(readers)


def _due_inputs(*, day: date, frequency: str) -> list[SubscriberInputs]:
    rows = due_subscriber_rows(frequency=frequency)
    return [row for row in rows if scheduling.is_due_on(row, day)]


def _active_subscribers() -> Any:
    return Subscriber.objects.sendable().order_by("pk")


def _papers_for(*, day: date, frequency: str) -> list[Paper]:
    from digest.catalogue import selectors

    if frequency == scheduling.WEEKLY:
        # The seven days before the edition's date ("the week to <date>" in the email),
        # not the calendar week around them.
        first = scheduling.weekly_window(day)
        return selectors.paper_list_for_days(first=first, last=day - timedelta(days=1))
    return list(selectors.paper_list_for_day(day=day))


def _snapshot_papers(run: DigestRun, papers: Iterable[Paper]) -> None:
    # Papers already in the snapshot keep their values: earlier emails were rendered
    # from them.
    new = {p.arxiv_id: paper_snapshot(p) for p in papers if p.arxiv_id not in run.papers}
    if new:
        run.papers = {**run.papers, **new}
        run.save(update_fields=["papers"])


def _plan(*, run: DigestRun, papers: list[Paper], subscribers: Sequence[RankedSubscriber]) -> int:
    from digest.ranking import inputs as ranking_inputs

    already = set(Delivery.objects.filter(run=run).values_list("subscriber_id", flat=True))
    todo = [sub for sub in subscribers if sub.pk not in already]
    if not todo:
        return 0
    feedback = ranking_inputs.feedback_by_subscriber([sub.pk for sub in todo])
    # One ranker for the whole edition: the per-day work (corpus, tf-idf, similarities)
    # is done once, not once per batch.
    ranker = edition_ranker(day=run.edition_date, papers=papers, feedback=feedback)
    return plan_readers(run=run, ranker=ranker, subscribers=todo, feedback=feedback)


def edition_ranker(
    *, day: date, papers: Sequence[Paper], feedback: Mapping[int, Mapping[str, list[str]]]
) -> Ranker:
    """The edition's Ranker: the day's papers, and the papers these readers gave feedback on."""
    from digest import ranking
    from digest.ranking import inputs as ranking_inputs

    candidates = [ranking_inputs.candidate_from_paper(p, today=day) for p in papers]
    liked = {aid for kinds in feedback.values() for ids in kinds.values() for aid in ids}
    reference = ranking_inputs.reference_candidates(sorted(liked), today=day)
    ranking_inputs.load_paper_vectors([*candidates, *reference])  # embedded once per paper
    return ranking.Ranker(candidates, reference=reference)


def plan_readers(
    *,
    run: DigestRun,
    ranker: Ranker,
    subscribers: Sequence[RankedSubscriber],
    feedback: Mapping[int, Mapping[str, list[str]]],
) -> int:
    """Rank these readers (none planned in ``run`` yet) and insert their deliveries."""
    from digest.ranking import inputs as ranking_inputs

    candidates = ranker.candidates
    exclude = _already_sent(
        run=run,
        subscriber_ids={sub.pk for sub in subscribers},
        arxiv_ids={c.arxiv_id for c in candidates},
    )
    snapshots = _PicksJson(candidates)
    planned = 0
    for batch in batches(subscribers, PLAN_BATCH):
        profiles = ranking_inputs.profiles_for_subscribers(
            batch, exclude=exclude, feedback=feedback
        )
        columns = ranker.rank_columns(profiles)
        rows = snapshots.rows([sub.pk for sub in batch], columns)
        _insert_deliveries(run, rows)
        planned += len(rows)
    return planned


class _PicksJson:
    """Delivery.picks as JSON text, straight from the ranker's columns.

    The snapshot is [{"arxiv_id", "score" (4 decimals), "reason"}, ...], best first. Each
    paper's and each reason's JSON is written once per run, not once per pick, and no
    Pick object or dict is made for the ~1.2 million picks of 100,000 subscribers.
    """

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        # No spaces after the separators: PostgreSQL parses a gigabyte of it per 1M readers
        # (jsonb keeps no spacing either).
        self.heads = [f'{{"arxiv_id":{json.dumps(c.arxiv_id)},"score":' for c in candidates]

    def rows(self, keys: Sequence[int], columns: RankedColumns) -> list[tuple[int, str]]:
        """(key, picks JSON) for each key that has picks; columns of rank_columns(keys)."""
        if not np.isfinite(columns.score).all():
            raise ValueError("non-finite ranking score")  # JSON has no NaN
        tails = [f',"reason":{json.dumps(text)}}}' for text in columns.reason_texts]
        texts, codes = _score_texts(columns.score)
        scores = map(texts.__getitem__, codes)
        heads = map(self.heads.__getitem__, columns.paper.tolist())
        reasons = map(tails.__getitem__, columns.reason.tolist())
        items = list(map("".join, zip(heads, scores, reasons, strict=True)))
        offsets = columns.offsets.tolist()
        return [
            (key, f"[{','.join(items[start:end])}]")
            for key, start, end in zip(keys, offsets, offsets[1:], strict=False)
            if end > start
        ]


def _score_texts(score: np.ndarray) -> tuple[list[str], list[int]]:
    """Each distinct score rounded to 4 decimals as JSON, and each pick's index into them.

    Writing a float (repr, as json.dumps does) was a third of the picks' JSON; the
    117,000 picks of a shard have about 3,000 distinct scores. (+ 0.0 turns -0.0 into
    0.0, the one value it equals.)
    """
    distinct, codes = np.unique(np.round(score.astype(np.float64), 4) + 0.0, return_inverse=True)
    return list(map(repr, distinct.tolist())), codes.ravel().tolist()


_DELIVERY_COLUMNS = (
    "(run_id, subscriber_id, picks, status, message_id, esp_message_id, attempts,"
    " last_error, needs_reconciliation, created_at)"
)


def _insert_deliveries(run: DigestRun, rows: list[tuple[int, str]]) -> None:
    """Insert planned deliveries; the unique (run, subscriber) constraint is the last word.

    On PostgreSQL by COPY straight into the table: bulk_create's client-side quoting of
    100,000 JSON values takes longer than ranking them. The caller left out the readers
    already planned, so a conflict means another planner (an overlapping tick) won
    some readers meanwhile: then the rows go through a temporary table and INSERT ..
    ON CONFLICT DO NOTHING (two passes over the picks, so only then).
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        objs = [Delivery(run=run, subscriber_id=pk, picks=json.loads(picks)) for pk, picks in rows]
        Delivery.objects.bulk_create(objs, batch_size=2000, ignore_conflicts=True)
        return
    from psycopg.errors import UniqueViolation  # COPY is psycopg's: Django does not wrap it

    now = timezone.now()
    sql = f"COPY {Delivery._meta.db_table} {_DELIVERY_COLUMNS} FROM STDIN"
    try:
        # A savepoint: a conflict undoes this COPY alone.
        with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for pk, picks in rows:
                copy.write_row((run.pk, pk, picks, Status.PLANNED, "", "", 0, "", False, now))
    except (IntegrityError, UniqueViolation):
        _insert_skipping_conflicts(run, rows, now)


def _insert_skipping_conflicts(run: DigestRun, rows: list[tuple[int, str]], now: datetime) -> None:
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
                copy.write_row((pk, picks))
        cursor.execute(
            f"INSERT INTO {table} {_DELIVERY_COLUMNS}"
            " SELECT %s, subscriber_id, picks, %s, '', '', 0, '', false, %s"
            " FROM digest_new_delivery ON CONFLICT DO NOTHING",
            [run.pk, Status.PLANNED, now],
        )
        cursor.execute("TRUNCATE digest_new_delivery")


def _already_sent(
    *, run: DigestRun, subscriber_ids: set[int], arxiv_ids: set[str]
) -> dict[int, set[str]]:
    """Which of today's papers each subscriber already got (no repeats).

    Only runs whose snapshot holds one of today's papers can have sent one, usually the
    last few days' out of NO_REPEAT_DAYS: only their deliveries' picks are read.
    """
    if not arxiv_ids:
        return {}
    since = run.edition_date - timedelta(days=NO_REPEAT_DAYS)
    runs = (
        DigestRun.objects.filter(edition_date__gte=since, papers__has_any_keys=sorted(arxiv_ids))
        .exclude(pk=run.pk)
        .values_list("pk", flat=True)
    )
    run_ids = list(runs)
    if not run_ids or not subscriber_ids:
        return {}
    rows = (
        # The id range: a shard reads its own readers' rows, not the whole edition's.
        Delivery.objects.filter(
            run_id__in=run_ids,
            subscriber_id__gte=min(subscriber_ids),
            subscriber_id__lte=max(subscriber_ids),
        )
        .exclude(status__in=[Status.SKIPPED, Status.FAILED])
        .values_list("subscriber_id", "picks")
        .order_by()
    )
    sent: dict[int, set[str]] = defaultdict(set)
    for subscriber_id, picks in rows.iterator(chunk_size=5000):
        if subscriber_id in subscriber_ids:
            sent[subscriber_id].update(
                pick["arxiv_id"] for pick in picks if pick["arxiv_id"] in arxiv_ids
            )
    return dict(sent)


def _finish_build(run: DigestRun) -> None:
    now = timezone.now()
    run.built_at = run.built_at or now
    if run.status == RunStatus.BUILDING:
        needs_review = settings.DIGEST_REQUIRE_APPROVAL
        run.status = RunStatus.AWAITING_REVIEW if needs_review else RunStatus.APPROVED
    run.save(update_fields=["built_at", "status"])
    digest_run_refresh(run_id=run.pk)
