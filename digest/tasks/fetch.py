"""Fetching papers: one task per source and day, so one failing source never stops the others,
then the lookup step (arXiv categories of the papers that have none) once they are done."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from celery import shared_task

from digest.catalogue import (
    catalogue_fetch,
    catalogue_lookup_categories,
    lookup_needed,
    sources_still_fetching,
    sources_to_refetch,
)
from digest.sources import enabled_source_names, sources_refetching_previous_day

__all__ = [
    "fetch_all_sources",
    "fetch_source",
    "lookup_categories",
    "refetch_missing_sources",
    "refetch_previous_day",
]

logger = logging.getLogger(__name__)

# The lookup waits for the sources queued with it: it asks again this often, this many
# times (15 minutes in all, well past a source's retries), then looks up anyway.
LOOKUP_WAIT_SECONDS = 30
LOOKUP_WAIT_TRIES = 30


@shared_task(name="digest.tasks.fetch_all_sources")
def fetch_all_sources(day: str | None = None) -> list[str]:
    """Queue one fetch per enabled source for ``day`` (ISO date, default: today in UTC)."""
    day = day or _today()
    since = datetime.now(UTC)
    queued = _queue(enabled_source_names(), day)
    _queue_lookup(day, after=queued, since=since)
    return queued


@shared_task(name="digest.tasks.fetch_source")
def fetch_source(source: str, day: str) -> int:
    """Fetch one source for one day; the failure, if any, is recorded on the FetchRun."""
    return catalogue_fetch(source=source, day=date.fromisoformat(day)).pk


@shared_task(name="digest.tasks.refetch_missing_sources")
def refetch_missing_sources(day: str | None = None) -> list[str]:
    """Fetch again each enabled source whose latest run for ``day`` failed or found nothing."""
    day = day or _today()
    since = datetime.now(UTC)
    queued = _queue(sources_to_refetch(day=date.fromisoformat(day)), day)
    if queued or lookup_needed(day=date.fromisoformat(day)):
        _queue_lookup(day, after=queued, since=since)
    return queued


@shared_task(name="digest.tasks.lookup_categories", bind=True, max_retries=LOOKUP_WAIT_TRIES)
def lookup_categories(
    self: Any, day: str, sources: list[str] | None = None, since: str | None = None
) -> int:
    """The lookup step: arXiv categories for the papers without any (a FetchRun).

    ``sources`` were queued at ``since`` (ISO time) with it: it waits until each has a
    finished run started since then, so that it sees the papers they bring.
    """
    the_day = date.fromisoformat(day)
    # Eagerly (tests, scripts) the sources have run already, inline.
    if sources and since and not self.request.is_eager:
        tries_left = self.request.retries < LOOKUP_WAIT_TRIES
        queued_at = datetime.fromisoformat(since)
        if tries_left and sources_still_fetching(day=the_day, since=queued_at, sources=sources):
            raise self.retry(countdown=LOOKUP_WAIT_SECONDS)
    return catalogue_lookup_categories(day=the_day).pk


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


def _queue_lookup(day: str, *, after: list[str], since: datetime) -> None:
    try:
        lookup_categories.delay(day, after, since.isoformat())
    except Exception:  # as above: the next fetch looks the papers up
        logger.exception("could not queue the arXiv lookup for %s", day)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()
