"""Paper sources: one module per upstream, one interface (digest/sources/base.py).

``SOURCES`` maps the names used by ``settings.DIGEST_SOURCES`` to their classes.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from digest.sources.arxiv_rss import ArxivRssSource
from digest.sources.base import FetchResult, PaperData, SkippedRecord, Source, SourceError
from digest.sources.hf_api import HfApiSource
from digest.sources.hf_page import HfPageSource
from digest.sources.http import HttpClient

SOURCES: dict[str, type[Source]] = {
    HfApiSource.name: HfApiSource,
    HfPageSource.name: HfPageSource,
    ArxivRssSource.name: ArxivRssSource,
}

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
