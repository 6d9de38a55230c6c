"""The one interface every paper source implements, and the record they all return.

Sources follow healthchecks' pluggable transports: a base class with one documented
method and one subclass per upstream. A source never touches the database; the
catalogue service (digest/catalogue/merge.py) merges what they return.

Each source also declares its own facts as class attributes, so nothing outside this
package needs to know a source by name (the registry in __init__.py answers the
cross-source questions):

- ``precedence``: merge order when ``settings.DIGEST_SOURCES`` does not give one (lower
  wins); the order in DIGEST_SOURCES always comes first.
- ``refetch_previous_day``: its counts keep growing after the day and it can still serve
  a past day, so yesterday is fetched again each morning.
- ``community_votes``: its trend rows carry community upvotes ("today's papers" ranks
  those papers first, by votes).
- ``recognises(head)`` and ``file_suffixes``: how ``fetch_papers --file`` tells a saved
  response of its format, by content first, else by suffix.
- ``paper_url(arxiv_id)``: the page a reader should get for a paper this source saw, or
  None to let the arXiv abstract page stand.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from digest.sources.http import HttpClient

# "2403.01234v2" -> "2403.01234"; also old-style ids such as "hep-ex/0501001v1".
_VERSION_SUFFIX = re.compile(r"v\d+$")
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")

# Only real inline/HTML tag names are stripped, so "with <1 GB VRAM" or "$a<b$" survive.
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|big|br|code|del|div|em|font|i|ins|kbd|mark|p|q|s|small|span|strike|strong"
    r"|sub|sup|tt|u|var)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_HTML_BLOCK_TAG = re.compile(r"</?(?:br|p|div|li|ul|ol)(?:\s[^<>]*)?/?>", re.IGNORECASE)
# Entities with their semicolon only: "ATT&CK" must stay as it is.
_HTML_ENTITY = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]{1,31}|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});")
# LaTeX accents in author names, e.g. "Andr\\'e" -> "André".
_LATEX_ACCENT = re.compile(r"""\\(['"`^~])\{?([A-Za-z])\}?""")
_COMBINING = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303"}
_WHITESPACE = re.compile(r"\s+")

# SkippedRecord kinds: "bad" items make a run partial; "filtered" ones were left out on
# purpose (a setting, another day's feed) and do not.
SKIP_BAD = "bad"
SKIP_FILTERED = "filtered"


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


def squash_whitespace(value: str) -> str:
    """Hard line breaks and runs of spaces (2024 HF titles, arXiv abstracts) become one space."""
    return _WHITESPACE.sub(" ", value).strip()


def clean_text(value: object) -> str:
    """Plain text from an upstream string: HTML tags and entities out, LaTeX left readable."""
    if not isinstance(value, str):
        return ""
    # Block tags separate words; inline ones ("<i>x</i>", "H<sub>2</sub>O") must not.
    text = _HTML_BLOCK_TAG.sub(" ", value)
    text = _HTML_TAG.sub("", text)
    text = _HTML_ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    return squash_whitespace(text)


def clean_title(value: object) -> str:
    return clean_text(value)


def latex_accents_to_unicode(value: str) -> str:
    def _accent(match: re.Match[str]) -> str:
        return unicodedata.normalize("NFC", match.group(2) + _COMBINING[match.group(1)])

    return _LATEX_ACCENT.sub(_accent, value)


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
    kind: str = SKIP_BAD


@dataclass(slots=True)
class FetchResult:
    """What one source returned for one day.

    ``day`` is the day the data itself claims (HF page date, feed date, most common
    ``submittedOnDailyAt``), used when the caller does not know it. ``warnings`` are
    problems that did not cost a record (e.g. invalid UTF-8 bytes replaced).
    """

    papers: list[PaperData] = field(default_factory=list)
    skipped: list[SkippedRecord] = field(default_factory=list)
    day: date | None = None
    warnings: list[str] = field(default_factory=list)

    def skip(self, reason: str, identifier: str = "", *, kind: str = SKIP_BAD) -> None:
        self.skipped.append(SkippedRecord(reason=reason, identifier=identifier, kind=kind))

    @property
    def has_problems(self) -> bool:
        return bool(self.warnings) or any(s.kind == SKIP_BAD for s in self.skipped)


class Source:
    """A place trending papers come from.

    Subclasses set ``name`` and implement ``parse`` (bytes -> records, no I/O) and
    ``fetch`` (download one day, then parse). ``fetch`` raises ``SourceError`` when the
    upstream cannot be reached or answers garbage; ``parse`` skips bad items one by one
    and reports them in ``FetchResult.skipped``.
    """

    name: ClassVar[str] = ""
    # Facts (module docstring); the defaults suit a source that only lists today's papers.
    precedence: ClassVar[int] = 100
    refetch_previous_day: ClassVar[bool] = False
    community_votes: ClassVar[bool] = False
    file_suffixes: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def recognises(cls, head: bytes) -> bool:
        """Is ``head`` (a saved file's first bytes: BOM and blanks stripped, lowercased) ours?"""
        return False

    @classmethod
    def paper_url(cls, arxiv_id: str) -> str | None:
        return None

    def __init__(self, *, client: HttpClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            # Imported here: http.py imports SourceError from this module.
            from digest.sources.http import HttpClient

            self._client = HttpClient()
        return self._client

    def fetch(self, day: date) -> FetchResult:
        raise NotImplementedError

    def parse(self, content: bytes, *, day: date | None = None) -> FetchResult:
        raise NotImplementedError


def decode_body(content: bytes) -> tuple[str, bool]:
    """Bytes -> text, never failing: returns (text, lossy) where lossy means bytes were replaced.

    A stray latin-1 byte in one author name must not cost the whole day.
    """
    try:
        return content.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return content.decode("utf-8-sig", errors="replace"), True
