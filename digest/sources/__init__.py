"""Paper sources: one module per upstream, one interface (digest/sources/base.py).

``SOURCES`` maps the names used by ``settings.DIGEST_SOURCES`` to their classes. The
helpers below answer the questions that span sources from the facts each one declares,
so the rest of the project never names a source.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from digest.sources.arxiv_rss import ArxivRssSource
from digest.sources.base import FetchResult, PaperData, SkippedRecord, Source, SourceError
from digest.sources.hf_api import HfApiSource
from digest.sources.hf_page import HfPageSource
from digest.sources.http import HttpClient

# Also the order saved files are sniffed in (``source_for_file``): the feed before the
# page, so an HTML document that embeds a feed is read as the feed, as it always was.
SOURCES: dict[str, type[Source]] = {
    HfApiSource.name: HfApiSource,
    ArxivRssSource.name: ArxivRssSource,
    HfPageSource.name: HfPageSource,
}
# How much of a saved file its format is recognised from.
SNIFF_BYTES = 4096

__all__ = [
    "SOURCES",
    "FetchResult",
    "HttpClient",
    "PaperData",
    "SkippedRecord",
    "Source",
    "SourceError",
    "enabled_source_names",
    "get_source",
    "merge_precedence",
    "public_paper_url",
    "saved_file_suffixes",
    "source_for_file",
    "sources_refetching_previous_day",
    "sources_with_community_votes",
]


def get_source(name: str, *, client: HttpClient | None = None) -> Source:
    try:
        source_class = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None
    return source_class(client=client)


def enabled_source_names() -> list[str]:
    """settings.DIGEST_SOURCES, checked: a typo there must fail loudly, not fetch nothing."""
    names = list(settings.DIGEST_SOURCES)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ImproperlyConfigured(
            f"DIGEST_SOURCES has unknown source(s) {unknown}; known: {', '.join(SOURCES)}"
        )
    return names


def merge_precedence() -> list[str]:
    """Every known source, best first: DIGEST_SOURCES order, then each one's ``precedence``."""
    # Not enabled_source_names(): merging must not fail over a typo in the settings.
    configured = [name for name in settings.DIGEST_SOURCES if name in SOURCES]
    rest = [name for name in SOURCES if name not in configured]
    return configured + sorted(rest, key=lambda name: SOURCES[name].precedence)


def sources_refetching_previous_day() -> list[str]:
    """Enabled sources worth fetching again for yesterday (their counts keep growing)."""
    return [name for name in enabled_source_names() if SOURCES[name].refetch_previous_day]


def sources_with_community_votes() -> frozenset[str]:
    """Known sources whose trend rows carry upvotes; enabled or not, since old rows stay."""
    return frozenset(name for name, source in SOURCES.items() if source.community_votes)


def public_paper_url(arxiv_id: str, sources: Iterable[str]) -> str | None:
    """The page a reader should get for a paper seen by ``sources`` (best first), if any.

    None means no source offers a page of its own: link the arXiv abstract.
    """
    for name in sources:
        source = SOURCES.get(name)  # a source removed since the paper was stored: skip it
        url = source.paper_url(arxiv_id) if source else None
        if url:
            return url
    return None


def source_for_file(content: bytes, *, suffix: str) -> str | None:
    """Which source's format a saved response is in: by its first bytes, else its suffix."""
    head = content[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for name, source in SOURCES.items():
        if source.recognises(head):
            return name
    suffix = suffix.lower()
    return next((name for name, source in SOURCES.items() if suffix in source.file_suffixes), None)


def saved_file_suffixes() -> frozenset[str]:
    """Every suffix a saved response of some source may have (".json", ".xml", ...)."""
    return frozenset[str]().union(*(source.file_suffixes for source in SOURCES.values()))
