"""The lookup step of the daily fetch: arXiv categories for papers that came without any.

After the day's sources have run, the papers that trended in the last LOOKBACK_DAYS days
and still have no categories (Hugging Face gives none) are looked up in the arXiv API
(digest/sources/arxiv_api.py). Each lookup is a ``FetchRun`` with source "arxiv_api":
"updated" counts the papers that got their categories, "skipped" the ids arXiv does not
know or whose categories are not real ones.

When the API is down or answers garbage, the run fails, nothing changes, and the papers
are simply still without categories: the digest goes out without them, and the next
lookup (the later refetch of the day, or tomorrow's fetch) asks again.

Merge rules: arXiv is the authority on categories, so its list (primary first) replaces
ours; its abstract only fills a blank one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from digest.catalogue.merge import _finish, _finish_failed
from digest.models import FetchRun, Paper, PaperTrend
from digest.sources.arxiv_api import NAME, ArxivApiLookup
from digest.sources.base import FetchResult, PaperData, SkippedRecord, SourceError

logger = logging.getLogger(__name__)

LOOKUP_SOURCE = NAME
# A lookup also retries the papers of the days before that still lack categories.
LOOKBACK_DAYS = 6


def papers_missing_categories(*, day: date) -> list[str]:
    """Papers that trended from ``day`` - LOOKBACK_DAYS to ``day`` and have no categories."""
    first = day - timedelta(days=LOOKBACK_DAYS)
    ids = (
        PaperTrend.objects.filter(day__range=(first, day))
        .values_list("paper_id", flat=True)
        .distinct()
    )
    rows = Paper.objects.filter(pk__in=ids).values_list("arxiv_id", "categories")
    return sorted(arxiv_id for arxiv_id, categories in rows if not categories)


def catalogue_lookup_categories(*, day: date, lookup: ArxivApiLookup | None = None) -> FetchRun:
    """Look up the papers missing categories; never raises for an API failure."""
    run = FetchRun.objects.create(source=LOOKUP_SOURCE, day=day)
    wanted = papers_missing_categories(day=day)
    try:
        result = (lookup or ArxivApiLookup()).lookup(wanted) if wanted else FetchResult()
    except SourceError as exc:
        return _finish_failed(run, str(exc))
    except Exception as exc:  # a parser bug must not leave the run "running"
        logger.exception("arXiv lookup for %s crashed", day)
        return _finish_failed(run, f"unexpected {type(exc).__name__}: {exc}")
    return catalogue_apply_lookup(day=day, result=result, run=run)


def catalogue_apply_lookup(
    *, day: date, result: FetchResult, run: FetchRun | None = None
) -> FetchRun:
    """Store what the arXiv API said about papers of the catalogue (also a saved answer)."""
    run = run or FetchRun.objects.create(source=LOOKUP_SOURCE, day=day)
    skipped = list(result.skipped)
    try:
        with transaction.atomic():
            run.updated_count = _apply(result.papers, skipped=skipped)
    except DatabaseError as exc:
        logger.exception("storing the arXiv lookup for %s failed", day)
        return _finish_failed(run, f"database error: {exc}", skipped=skipped)
    return _finish(run, result=result, skipped=skipped)


def lookup_needed(*, day: date) -> bool:
    """Should the refetch look up again: the day's lookup failed or never ran, or papers
    still lack categories that the latest lookup did not get an answer about (an id
    arXiv does not know, or one without a real category, is not asked again that day)."""
    latest = FetchRun.objects.filter(source=LOOKUP_SOURCE, day=day).order_by("-started_at", "-pk")
    run = latest.first()
    if run is None or run.status == FetchRun.Status.FAILED:
        return True
    answered = {s["identifier"] for s in run.skipped}
    return any(arxiv_id not in answered for arxiv_id in papers_missing_categories(day=day))


def sources_still_fetching(*, day: date, since: datetime, sources: Sequence[str]) -> list[str]:
    """Of ``sources``, those with no run for ``day`` started since ``since``, or one still
    running: the lookup waits for them, so it sees the papers they bring."""
    runs = FetchRun.objects.filter(day=day, source__in=sources, started_at__gte=since)
    done = set(runs.exclude(status=FetchRun.Status.RUNNING).values_list("source", flat=True))
    return [name for name in sources if name not in done]


def _apply(records: list[PaperData], *, skipped: list[SkippedRecord]) -> int:
    papers = Paper.objects.in_bulk([r.arxiv_id for r in records], field_name="arxiv_id")
    now = timezone.now()
    changed: list[Paper] = []
    for record in records:
        paper = papers.get(record.arxiv_id)
        if paper is None:
            skipped.append(SkippedRecord("not in the catalogue", record.arxiv_id))
            continue
        paper.categories = list(record.categories or paper.categories)
        if not paper.abstract and record.abstract:
            paper.abstract = record.abstract
        paper.updated_at = now  # bulk_update skips auto_now
        changed.append(paper)
    Paper.objects.bulk_update(changed, ["categories", "abstract", "updated_at"], batch_size=200)
    return len(changed)
