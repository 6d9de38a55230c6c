"""Fetching papers: one task per source and day, so one failing source never stops the others."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from celery import shared_task

from digest.catalogue import catalogue_fetch, sources_to_refetch
from digest.sources import enabled_source_names, sources_refetching_previous_day

__all__ = ["fetch_all_sources", "fetch_source", "refetch_missing_sources", "refetch_previous_day"]

logger = logging.getLogger(__name__)


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
    return _queue(sources_to_refetch(day=date.fromisoformat(day)), day)


@shared_task(name="digest.tasks.refetch_previous_day")
def refetch_previous_day(day: str | None = None) -> list[str]:
    """Fetch again the day before ``day`` (default: today in UTC), for its final upvotes.

    Only sources whose counts keep growing after the day (``Source.refetch_previous_day``).
    The morning fetch sees a day's papers hours after they were listed; the refetch
    updates that day's PaperTrend rows (rank, upvotes) and the papers' counters.
    """
    previous = date.fromisoformat(day or _today()) - timedelta(days=1)
    return _queue(sources_refetching_previous_day(), previous.isoformat())


def _queue(sources: list[str], day: str) -> list[str]:
    queued: list[str] = []
    for source in sources:
        try:
            fetch_source.delay(source, day)
        except Exception:  # broker hiccup (or, eagerly, a bug): the next source still goes
            logger.exception("could not queue fetch of %s for %s", source, day)
            continue
        queued.append(source)
    return queued


def _today() -> str:
    return datetime.now(UTC).date().isoformat()
