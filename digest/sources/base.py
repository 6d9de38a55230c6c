"""The one interface every paper source implements, and the record they all return.

Sources follow healthchecks' pluggable transports: a base class with one documented
method and one subclass per upstream. A source never touches the database; the
catalogue service (digest/catalogue.py) merges what they return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

# "2403.01234v2" -> "2403.01234"; also old-style ids such as "hep-ex/0501001v1".
_VERSION_SUFFIX = re.compile(r"v\d+$")
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")


class SourceError(Exception):
    """A source could not deliver anything usable (network down, bad status, unparseable)."""


def normalise_arxiv_id(raw: str) -> str:
    """Strip URL prefixes, the "arXiv:" label and the version: one paper, one id."""
    value = raw.strip()
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value.split("/abs/", 1)[-1].split("/pdf/", 1)[-1].split("/papers/", 1)[-1]
    value = value.removeprefix("oai:arXiv.org:").removeprefix("arXiv:").removeprefix("arxiv:")
    value = value.removesuffix(".pdf").strip("/")
    return _VERSION_SUFFIX.sub("", value)


def is_valid_arxiv_id(value: str) -> bool:
    return bool(_ARXIV_ID.match(value))


@dataclass(slots=True)
class PaperData:
    """A normalised paper as one source saw it on one day.

    Only ``arxiv_id`` and ``title`` are required; everything else is optional because
    upstream schemas drop keys from day to day. ``None`` means "this source does not
    know", so the catalogue can merge without overwriting good data with blanks.
    """

    arxiv_id: str
    title: str
    source: str
    abstract: str | None = None
    authors: list[str] | None = None
    organization: str | None = None
    categories: list[str] | None = None
    published_at: datetime | None = None
    trending_day: date | None = None
    rank: int | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    thumbnail_url: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    announce_type: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class SkippedRecord:
    """An upstream item we could not use, and why (kept on the FetchRun)."""

    reason: str
    identifier: str = ""


@dataclass(slots=True)
class FetchResult:
    papers: list[PaperData] = field(default_factory=list)
    skipped: list[SkippedRecord] = field(default_factory=list)


class Source:
    """A place trending papers come from.

    Subclasses set ``name`` and implement ``parse`` (bytes -> records, no I/O) and
    ``fetch`` (download one day, then parse). ``fetch`` raises ``SourceError`` when the
    upstream cannot be reached or answers garbage; ``parse`` skips bad items one by one
    and reports them in ``FetchResult.skipped``.
    """

    name: str = ""

    def fetch(self, day: date) -> FetchResult:
        raise NotImplementedError

    def parse(self, content: bytes, *, day: date | None = None) -> FetchResult:
        raise NotImplementedError
