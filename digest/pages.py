"""What the public pages show: paper cards, the trending list, the archive and the feed.

Everything here is built from the catalogue alone (nothing personal), so it is cached in
the shared cache under the catalogue's version (digest.catalogue.version): a fetch that
changes the catalogue bumps the version and every page is rebuilt on its next visit. A
cache that is down degrades to building the page on every request, never to an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils.html import escape

from digest.catalogue.selectors import latest_trending_day, paper_list_for_day
from digest.catalogue.tldr import paper_tldr
from digest.catalogue.version import catalogue_version
from digest.models import Paper, PaperTrend

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRENDING_ON_LANDING = 30
ARCHIVE_DAYS_PER_PAGE = 30
FEED_DAYS = 7
FEED_PAPERS_PER_DAY = 10
AUTHORS_SHOWN = 3
# A day of pages at most, even if no fetch ever bumps the version.
PAGE_TIMEOUT = 24 * 3600


@dataclass(frozen=True, slots=True)
class Card:
    """One paper as the pages show it (picklable: cached as it is)."""

    arxiv_id: str
    title: str
    tldr: str
    thumbnail_url: str
    byline: str
    upvotes: int
    code_url: str
    stars: int | None
    project_url: str
    arxiv_url: str
    pdf_url: str
    hf_url: str


def byline(*, authors: list[str], organization: str) -> str:
    names = [str(a) for a in authors or ()]
    shown = ", ".join(names[:AUTHORS_SHOWN])
    if len(names) > AUTHORS_SHOWN:
        shown += " et al."
    return " · ".join(part for part in (shown, organization) if part)


def card_from_paper(paper: Paper) -> Card:
    return Card(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        tldr=paper_tldr(ai_summary=paper.ai_summary, abstract=paper.abstract),
        thumbnail_url=paper.thumbnail_url if paper.thumbnail_url.startswith("https://") else "",
        byline=byline(authors=paper.authors, organization=paper.organization),
        upvotes=paper.upvotes,
        code_url=paper.github_repo,
        stars=paper.github_stars,
        project_url=paper.project_page,
        arxiv_url=paper.arxiv_url,
        pdf_url=paper.pdf_url,
        hf_url=paper.hf_url,
    )


# Each process also keeps what it built or fetched, and re-reads the version at most once
# per DIGEST_PAGES_RECHECK_SECONDS: a cached page then costs no cache round trip at all,
# and a fetch reaches every process within that many seconds.
_LOCAL_MAX = 256
_local: dict[str, tuple[str, Any]] = {}
_version_seen: tuple[float, str | None] = (-1e9, None)
_lock = threading.Lock()


def _current_version() -> str | None:
    global _version_seen
    recheck = float(getattr(settings, "DIGEST_PAGES_RECHECK_SECONDS", 1.0))
    now = time.monotonic()
    seen_at, version = _version_seen
    if recheck > 0 and now - seen_at < recheck:
        return version
    version = catalogue_version()  # None (cache down) is remembered too: no retry storm
    _version_seen = (now, version)
    return version


def forget_local() -> None:
    """Drop this process's copies (tests)."""
    global _version_seen
    with _lock:
        _local.clear()
        _version_seen = (-1e9, None)


def cached(name: str, build: Callable[[], T], *, timeout: int = PAGE_TIMEOUT) -> T:
    """``build()``'s value, cached under the catalogue version; uncached if the cache is down."""
    version = _current_version()
    if version is None:
        return build()
    mine = _local.get(name)
    if mine is not None and mine[0] == version:
        return mine[1]  # type: ignore[no-any-return]
    value = _shared(name, version, build, timeout)
    with _lock:
        if len(_local) >= _LOCAL_MAX:
            _local.clear()
        _local[name] = (version, value)
    return value


def _shared(name: str, version: str, build: Callable[[], T], timeout: int) -> T:
    key = f"pages:{version}:{name}"
    try:
        hit: T | None = cache.get(key)
    except Exception:  # the cache went away between the two calls: build it
        logger.warning("cache unavailable: %s built uncached", name, exc_info=True)
        return build()
    if hit is not None:
        return hit
    value = build()
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.warning("cache unavailable: %s not stored", name, exc_info=True)
    return value


# --- what the pages show -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trending:
    day: date | None
    cards: list[Card]


def trending() -> Trending:
    """The latest day's trending papers as cards (the landing and preferences pages)."""
    return cached("trending", _trending)


def trending_cards_html(*, heart_form: str, liked: Iterable[str] = ()) -> str:
    """The trending cards with their ♡ checkboxes in form ``heart_form``, those of
    ``liked`` ticked: the HTML is rendered once per catalogue version, the ticks per call."""
    html: str = cached(
        f"html:trending-cards:{heart_form}",
        lambda: render_to_string(
            "digest/_cards.html",
            {"cards": trending().cards, "heart": True, "heart_form": heart_form, "liked": ()},
        ),
    )
    for arxiv_id in liked:
        plain = f'value="{escape(arxiv_id)}" form="{escape(heart_form)}">'
        html = html.replace(plain, plain[:-1] + " checked>", 1)
    return html


def _trending() -> Trending:
    day = latest_trending_day()
    if day is None:
        return Trending(day=None, cards=[])
    papers = paper_list_for_day(day=day)[:TRENDING_ON_LANDING]
    return Trending(day=day, cards=[card_from_paper(p) for p in papers])


@dataclass(frozen=True, slots=True)
class ArchiveDay:
    day: date
    papers: int
    top_title: str


@dataclass(frozen=True, slots=True)
class ArchivePage:
    days: list[ArchiveDay]
    number: int
    has_next: bool


def archive_page(number: int) -> ArchivePage:
    """Days with trending papers, newest first, ARCHIVE_DAYS_PER_PAGE a page (from 1)."""
    return cached(f"archive:{number}", lambda: _archive_page(number))


def _archive_page(number: int) -> ArchivePage:
    start = (number - 1) * ARCHIVE_DAYS_PER_PAGE
    rows = list(
        PaperTrend.objects.values("day")
        .annotate(papers=Count("paper", distinct=True))
        .order_by("-day")[start : start + ARCHIVE_DAYS_PER_PAGE + 1]
    )
    days = []
    for row in rows[:ARCHIVE_DAYS_PER_PAGE]:
        top = paper_list_for_day(day=row["day"])[:1]
        days.append(
            ArchiveDay(day=row["day"], papers=row["papers"], top_title=top[0].title if top else "")
        )
    return ArchivePage(days=days, number=number, has_next=len(rows) > ARCHIVE_DAYS_PER_PAGE)


def day_cards(day: date) -> list[Card]:
    """That day's trending papers as cards, best first (empty if the day has none)."""
    return cached(f"day:{day.isoformat()}", lambda: _day_cards(day))


def _day_cards(day: date) -> list[Card]:
    return [card_from_paper(p) for p in paper_list_for_day(day=day)]


@dataclass(frozen=True, slots=True)
class FeedDay:
    day: date
    cards: list[Card]


def feed_days() -> list[FeedDay]:
    """The latest FEED_DAYS days with trending papers, their top papers each (the Atom feed)."""
    return cached("feed", _feed_days)


def _feed_days() -> list[FeedDay]:
    days = PaperTrend.objects.order_by("-day").values_list("day", flat=True).distinct()[:FEED_DAYS]
    return [
        FeedDay(day=day, cards=[c for c in _day_cards(day)[:FEED_PAPERS_PER_DAY]]) for day in days
    ]
