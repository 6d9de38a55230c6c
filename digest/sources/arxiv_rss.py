"""arXiv announcement feeds: ``https://rss.arxiv.org/rss/cs.AI+cs.CL+...`` via feedparser.

Three formats are understood:
- RSS 2.0 and Atom (since 2024): "arXiv:ID Announce Type: new|cross|replace|replace-cross
  \\nAbstract: ..." in the description, every author in one ``dc:creator`` string, one
  category element per category (primary first);
- the legacy RSS 1.0/RDF feed: "Title. (arXiv:ID [cat] UPDATED)" titles, an HTML ``<p>``
  abstract and authors as escaped ``<a>`` links.
The feed only ever holds *today's* announcement, so a day's "trending" arXiv papers are
the ones announced that day, in feed order.
"""

from __future__ import annotations

import re
from calendar import timegm
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import feedparser
from bs4 import BeautifulSoup
from django.conf import settings

from digest.sources.base import (
    SKIP_FILTERED,
    FetchResult,
    PaperData,
    Source,
    SourceError,
    clean_text,
    clean_title,
    is_valid_arxiv_id,
    latex_accents_to_unicode,
    normalise_arxiv_id,
    squash_whitespace,
)

if TYPE_CHECKING:
    from digest.sources.http import HttpClient

FEED_URL = "https://rss.arxiv.org/rss/"
REPLACEMENTS = frozenset({"replace", "replace-cross"})
# RSS 2.0, Atom and the legacy RSS 1.0/RDF feed: any of them in a saved file's head.
_FEED_TAGS = (b"<rss", b"<feed", b"<rdf:rdf")
_ANNOUNCE = re.compile(r"Announce Type:\s*([\w-]+)")
# Legacy RDF title suffix: "Title. (arXiv:1805.06430v2 [nucl-th] UPDATED)".
_RDF_SUFFIX = re.compile(
    r"\.?\s*\(arXiv:(?P<id>[^\s()]+)\s*\[(?P<cat>[^\]]+)\]\s*"
    r"(?P<status>UPDATED|CROSS LISTED)?\)\s*$"
)
_RDF_STATUS = {None: "new", "CROSS LISTED": "cross", "UPDATED": "replace"}
_COLLABORATION = re.compile(r"\([^()]*\)")


class ArxivRssSource(Source):
    name = "arxiv_rss"
    precedence = 30  # no upvotes, links or summaries; but the only one with categories
    # refetch_previous_day stays False: the feed only ever holds today's announcement.
    file_suffixes = frozenset({".xml", ".rss", ".atom", ".rdf"})

    @classmethod
    def recognises(cls, head: bytes) -> bool:
        return head.startswith(b"<") and any(tag in head for tag in _FEED_TAGS)

    def __init__(
        self,
        *,
        client: HttpClient | None = None,
        categories: list[str] | None = None,
        include_replacements: bool | None = None,
    ) -> None:
        super().__init__(client=client)
        self.categories = categories or list(settings.DIGEST_ARXIV_CATEGORIES)
        self.include_replacements = (
            settings.DIGEST_ARXIV_INCLUDE_REPLACEMENTS
            if include_replacements is None
            else include_replacements
        )

    @property
    def url(self) -> str:
        return FEED_URL + "+".join(self.categories)

    def fetch(self, day: date) -> FetchResult:
        result = self.parse(self.client.get(self.url).content, day=day)
        if result.day and result.day != day and result.papers:
            # The feed is always the latest announcement; it says nothing about other days.
            left_out = FetchResult(day=result.day)
            left_out.skip(
                f"feed announces {result.day}, not {day}: {len(result.papers)} paper(s) left out",
                kind=SKIP_FILTERED,
            )
            return left_out
        return result

    def parse(self, content: bytes, *, day: date | None = None) -> FetchResult:
        feed = feedparser.parse(content)
        if not feed.entries and (feed.bozo or not feed.get("version")):
            problem = feed.get("bozo_exception") or "not an RSS, Atom or RDF feed"
            raise SourceError(f"unreadable feed: {problem}")
        result = FetchResult(day=_feed_day(feed.feed))
        if feed.bozo:
            result.warnings.append(
                f"feed is not well-formed ({feed.get('bozo_exception')}); read leniently"
            )
        seen: set[str] = set()
        for position, entry in enumerate(feed.entries, start=1):
            record, reason = _parse_entry(entry, feed_day=result.day, source=self.name)
            if record is None:
                result.skip(reason, _entry_label(entry, position))
            elif record.arxiv_id in seen:
                result.skip("duplicate id in feed", record.arxiv_id)
            elif record.announce_type in REPLACEMENTS and not self.include_replacements:
                result.skip(
                    f"{record.announce_type} (DIGEST_ARXIV_INCLUDE_REPLACEMENTS is off)",
                    record.arxiv_id,
                    kind=SKIP_FILTERED,
                )
            else:
                seen.add(record.arxiv_id)
                record.rank = len(result.papers) + 1
                result.papers.append(record)
        return result


def _parse_entry(entry: Any, *, feed_day: date | None, source: str) -> tuple[PaperData | None, str]:
    raw_title = entry.get("title") or ""
    suffix = _RDF_SUFFIX.search(raw_title)
    arxiv_id = _entry_id(entry, suffix)
    if not arxiv_id:
        return None, "no arXiv id in id/guid/link"
    title = clean_title(raw_title[: suffix.start()] if suffix else raw_title)
    if not title:
        return None, f"{arxiv_id} has no title"
    summary = entry.get("summary") or ""
    categories = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    if not categories and suffix:
        categories = [suffix.group("cat")]
    published = _utc(entry.get("published_parsed") or entry.get("updated_parsed"))
    return (
        PaperData(
            arxiv_id=arxiv_id,
            title=title,
            source=source,
            abstract=_abstract(summary) or None,
            authors=_authors(entry.get("author") or ""),
            categories=list(dict.fromkeys(categories)) or None,
            published_at=published,
            trending_day=_local_date(entry.get("published") or "") or feed_day,
            announce_type=_announce_type(entry, summary, suffix),
        ),
        "",
    )


def _entry_id(entry: Any, suffix: re.Match[str] | None) -> str:
    candidates = [entry.get("id"), entry.get("link"), suffix.group("id") if suffix else None]
    for raw in candidates:
        if isinstance(raw, str) and is_valid_arxiv_id(normalise_arxiv_id(raw)):
            return normalise_arxiv_id(raw)
    return ""


def _announce_type(entry: Any, summary: str, suffix: re.Match[str] | None) -> str:
    explicit = entry.get("arxiv_announce_type")
    if explicit:
        return str(explicit).strip()
    match = _ANNOUNCE.search(summary)
    if match:
        return match.group(1)
    return _RDF_STATUS.get(suffix.group("status") if suffix else None, "new")


def _abstract(summary: str) -> str:
    _, marker, after = summary.partition("Abstract:")
    return clean_text(after if marker else summary)


def _authors(raw: str) -> list[str] | None:
    if "<a" in raw:  # legacy RDF: <a href="...">Name</a>, <a ...>Name</a> (Collaboration)
        names = [a.get_text() for a in BeautifulSoup(raw, "html.parser").find_all("a")]
    else:
        names = _COLLABORATION.sub("", raw).split(",")
    cleaned = [latex_accents_to_unicode(squash_whitespace(n)) for n in names]
    return [n for n in cleaned if n] or None


def _feed_day(channel: Any) -> date | None:
    for key in ("published", "updated", "dc_date"):
        value = _local_date(channel.get(key) or "")
        if value:
            return value
    return None


def _local_date(raw: str) -> date | None:
    """The calendar date as written (arXiv's own timezone), not converted to UTC."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).date()
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(raw).date()
    except ValueError:
        return None


def _utc(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    return datetime.fromtimestamp(timegm(parsed), tz=UTC)


def _entry_label(entry: Any, position: int) -> str:
    return str(entry.get("id") or entry.get("link") or f"item {position}")[:80]
