"""Fetching papers: one task per source and day, so one failing source never stops the others."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from celery import shared_task

from digest.catalogue import catalogue_fetch
from digest.models import FetchRun
from digest.sources import enabled_source_names

__all__ = ["fetch_all_sources", "fetch_source", "refetch_missing_sources", "refetch_previous_day"]

logger = logging.getLogger(__name__)

# Sources worth fetching again for a past day: Hugging Face keeps every day's list and its
# upvotes keep growing after the day. arXiv's feed only ever holds today's announcement.
GROWING_COUNT_SOURCES = ("hf_api", "hf_page")


@shared_task(name="digest.tasks.fetch_all_sources")
def fetch_all_sources(day: str | None = None) -> list[str]:
    """Queue one fetch per enabled source for ``day`` (ISO date, default: today in UTC)."""
    day = day or _today()
    return _queue(enabled_source_names(), day)


@shared_task(name="digest.tasks.fetch_source")
def fetch_source(source: str, day: str) -> int:
    """Fetch one source for one day; the failure, if any, is recorded on the FetchRun."""
    return catalogue_fetch(source=source, day=date.fromisoformat(day)).pk


@shared_task(name="digest.tasks.refetch_missing_sources")
def refetch_missing_sources(day: str | None = None) -> list[str]:
    """Fetch again each enabled source whose latest run for ``day`` failed or found nothing."""
    day = day or _today()
    return _queue(_missing_sources(date.fromisoformat(day)), day)


@shared_task(name="digest.tasks.refetch_previous_day")
def refetch_previous_day(day: str | None = None) -> list[str]:
    """Fetch again the day before ``day`` (default: today in UTC), for its final upvotes.

    The morning fetch sees a day's papers hours after they were listed; the refetch
    updates that day's PaperTrend rows (rank, upvotes) and the papers' counters.
    """
    previous = date.fromisoformat(day or _today()) - timedelta(days=1)
    sources = [name for name in enabled_source_names() if name in GROWING_COUNT_SOURCES]
    return _queue(sources, previous.isoformat())


def _queue(sources: list[str], day: str) -> list[str]:
    queued = []
    for source in sources:
        try:
            fetch_source.delay(source, day)
        except Exception:  # broker hiccup (or, eagerly, a bug): the next source still goes
            logger.exception("could not queue fetch of %s for %s", source, day)
            continue
        queued.append(source)
    return queued


def _missing_sources(day: date) -> list[str]:
    latest: dict[str, FetchRun] = {}
    for run in FetchRun.objects.filter(day=day).order_by("started_at", "pk"):
        latest[run.source] = run
    return [name for name in enabled_source_names() if _needs_refetch(latest.get(name))]


def _needs_refetch(run: FetchRun | None) -> bool:
    if run is None or run.status == FetchRun.Status.FAILED:
        return True
    return run.new_count + run.updated_count == 0


def _today() -> str:
    return datetime.now(UTC).date().isoformat()
