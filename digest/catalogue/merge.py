"""The catalogue: merge what the sources saw into one ``Paper`` per arXiv id.

Each fetch of one source for one day is a ``FetchRun``; each paper it listed becomes (or
refreshes) a ``PaperTrend`` row for (paper, day, source), so "today's papers" is a
query, a paper trending on two days has two rows, and history is kept.

Merge precedence (``digest.sources.merge_precedence``): sources in
``settings.DIGEST_SOURCES`` order, then any other known source by its own ``precedence``.
- Descriptive fields (title, abstract, authors, organization, links, AI summary and
  keywords, published_at): the best-ranked source that knows a value wins; a
  lower-ranked source only fills blanks. "Unknown" (None/empty) never overwrites.
- Counters (upvotes, comments, GitHub stars): updated on every fetch by any source,
  keeping the larger of stored and fetched, so replaying an old file never rolls back
  today's numbers (each day's snapshot stays on its PaperTrend row).
- Categories: only arXiv has them; the feed's latest list wins.
Re-running a fetch is harmless: existing papers and trend rows are updated in place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from digest.catalogue.version import catalogue_changed
from digest.models import FetchRun, Paper, PaperTrend
from digest.sources import get_source, merge_precedence
from digest.sources.base import SKIP_BAD, FetchResult, PaperData, SkippedRecord, SourceError
from digest.sources.http import HttpClient

logger = logging.getLogger(__name__)

DESCRIPTIVE_FIELDS = (
    "title",
    "abstract",
    "authors",
    "organization",
    "published_at",
    "github_repo",
    "project_page",
    "thumbnail_url",
    "ai_summary",
    "ai_keywords",
)
COUNTER_FIELDS = ("upvotes", "num_comments", "github_stars")
ARXIV_FIELDS = ("categories",)
MERGED_FIELDS = (*DESCRIPTIVE_FIELDS, *COUNTER_FIELDS, *ARXIV_FIELDS, "sources", "updated_at")
# A day's arXiv feed can carry hundreds of filtered replacements; keep the row readable.
MAX_SKIPPED_STORED = 500


def catalogue_fetch(*, source: str, day: date, client: HttpClient | None = None) -> FetchRun:
    """Fetch one source for one day and store it. Never raises for a source failure."""
    run = FetchRun.objects.create(source=source, day=day)
    try:
        result = get_source(source, client=client).fetch(day)
    except SourceError as exc:
        return _finish_failed(run, str(exc))
    except Exception as exc:  # a parser bug must not leave the run "running" or stop others
        logger.exception("fetching %s for %s crashed", source, day)
        return _finish_failed(run, f"unexpected {type(exc).__name__}: {exc}")
    return catalogue_ingest(source=source, day=day, result=result, run=run)


def catalogue_ingest(
    *, source: str, day: date, result: FetchResult, run: FetchRun | None = None
) -> FetchRun:
    """Merge ``result`` into the catalogue as ``source``'s list for ``day``."""
    run = run or FetchRun.objects.create(source=source, day=day)
    records, duplicates = _unique(result.papers)
    skipped = [*result.skipped, *duplicates]
    try:
        new_count, updated_count = _store_with_retry(source=source, day=day, records=records)
    except DatabaseError as exc:
        logger.exception("storing %s for %s failed", source, day)
        return _finish_failed(run, f"database error: {exc}", skipped=skipped)
    run.new_count, run.updated_count = new_count, updated_count
    if new_count or updated_count:
        # Pages cached from the catalogue (landing, archive, feed) are rebuilt.
        transaction.on_commit(catalogue_changed)
    return _finish(run, result=result, skipped=skipped)


def catalogue_record_failure(*, source: str, day: date, error: str) -> FetchRun:
    """A failed run for a source that could not even be asked (e.g. an unreadable file)."""
    return _finish_failed(FetchRun.objects.create(source=source, day=day), error)


# --- storing ---------------------------------------------------------------------------


def _store_with_retry(*, source: str, day: date, records: list[PaperData]) -> tuple[int, int]:
    # Sources of the same day run in parallel; if another one inserted the same new paper
    # first, our insert conflicts. The second pass sees it as existing and merges.
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _store(source=source, day=day, records=records)
        except IntegrityError:
            if attempt == 2:
                raise
            logger.info("concurrent insert while storing %s for %s; retrying", source, day)
    raise AssertionError("unreachable")


def _store(*, source: str, day: date, records: list[PaperData]) -> tuple[int, int]:
    ids = [r.arxiv_id for r in records]
    existing = Paper.objects.in_bulk(ids, field_name="arxiv_id")
    precedence = merge_precedence()
    now = timezone.now()
    created: list[Paper] = []
    for record in records:
        paper = existing.get(record.arxiv_id)
        if paper is None:
            created.append(_new_paper(record, now=now, precedence=precedence))
        else:
            merge_record(paper, record, precedence=precedence)
            paper.updated_at = now  # bulk_update skips auto_now
    Paper.objects.bulk_create(created, batch_size=200)
    Paper.objects.bulk_update(existing.values(), fields=MERGED_FIELDS, batch_size=200)
    pks = dict(Paper.objects.filter(arxiv_id__in=ids).values_list("arxiv_id", "pk"))
    _store_trends(source=source, day=day, records=records, pks=pks, now=now)
    return len(created), len(existing)


def _store_trends(
    *, source: str, day: date, records: list[PaperData], pks: dict[str, int], now: Any
) -> None:
    trends = [
        PaperTrend(
            paper_id=pks[r.arxiv_id],
            day=day,
            source=source,
            rank=r.rank,
            upvotes=r.upvotes or 0,
            fetched_at=now,
        )
        for r in records
    ]
    PaperTrend.objects.bulk_create(
        trends,
        batch_size=200,
        update_conflicts=True,
        unique_fields=["paper", "day", "source"],
        update_fields=["rank", "upvotes", "fetched_at"],
    )


def _new_paper(record: PaperData, *, now: Any, precedence: list[str]) -> Paper:
    paper = Paper(arxiv_id=record.arxiv_id, title=record.title, first_seen_at=now)
    merge_record(paper, record, precedence=precedence)
    return paper


# --- merging (pure: no queries) ----------------------------------------------------------


def merge_record(paper: Paper, record: PaperData, *, precedence: list[str]) -> None:
    """Apply one source's view of a paper onto the stored one (rules: module docstring)."""
    outranked = any(_rank(s, precedence) < _rank(record.source, precedence) for s in paper.sources)
    for name in DESCRIPTIVE_FIELDS:
        value = getattr(record, name)
        if _blank(value) or (outranked and not _blank(getattr(paper, name))):
            continue
        setattr(paper, name, value)
    for name in COUNTER_FIELDS:
        value, current = getattr(record, name), getattr(paper, name)
        if value is not None and (current is None or value > current):
            setattr(paper, name, value)
    if record.categories:
        paper.categories = record.categories
    sources = {*paper.sources, record.source}
    paper.sources = sorted(sources, key=lambda s: _rank(s, precedence))


def _rank(source: str, precedence: list[str]) -> int:
    return precedence.index(source) if source in precedence else len(precedence)


def _blank(value: object) -> bool:
    return value is None or value == "" or value == []


def _unique(records: Iterable[PaperData]) -> tuple[list[PaperData], list[SkippedRecord]]:
    # Sources already drop duplicates; this guards hand-built results (and the DB).
    seen: set[str] = set()
    unique: list[PaperData] = []
    duplicates: list[SkippedRecord] = []
    for record in records:
        if record.arxiv_id in seen:
            duplicates.append(SkippedRecord("duplicate id in result", record.arxiv_id))
        else:
            seen.add(record.arxiv_id)
            unique.append(record)
    return unique, duplicates


# --- finishing the run ---------------------------------------------------------------------


def _finish(run: FetchRun, *, result: FetchResult, skipped: list[SkippedRecord]) -> FetchRun:
    bad = [s for s in skipped if s.kind == SKIP_BAD]
    stored = run.new_count + run.updated_count
    problems = list(result.warnings)
    if bad and not stored:
        run.status = FetchRun.Status.FAILED
        problems.insert(0, f"all {len(bad)} item(s) were unusable")
    elif bad or result.warnings:
        run.status = FetchRun.Status.PARTIAL
    else:
        run.status = FetchRun.Status.OK
    run.error_count = len(problems)
    run.error_text = "\n".join(problems)
    _set_skipped(run, skipped)
    run.finished_at = timezone.now()
    run.save()
    return run


def _finish_failed(
    run: FetchRun, error: str, *, skipped: list[SkippedRecord] | None = None
) -> FetchRun:
    run.status = FetchRun.Status.FAILED
    run.error_count = 1
    run.error_text = error
    run.new_count = run.updated_count = 0
    _set_skipped(run, skipped or [])
    run.finished_at = timezone.now()
    run.save()
    return run


def _set_skipped(run: FetchRun, skipped: list[SkippedRecord]) -> None:
    run.skipped_count = len(skipped)
    run.skipped = [
        {"reason": s.reason, "identifier": s.identifier, "kind": s.kind}
        for s in skipped[:MAX_SKIPPED_STORED]
    ]
