"""The arXiv API: categories (and the abstract) of any paper by id.

``GET https://export.arxiv.org/api/query?id_list=ID,ID,...&max_results=N`` answers an
Atom feed with one entry per paper it knows (feedparser reads the current format and
the 2016 one, namespaces on each element). Hugging Face lists papers without
categories; the catalogue's lookup step (digest/catalogue/lookup.py) asks here for the
day's papers that have none.

This is not a ``Source``: it lists no trending papers, it only describes papers already
in the catalogue, so it is not in the registry and DIGEST_SOURCES does not name it.

arXiv's terms: at most 100 ids per request here, and at least 3 seconds between
requests (retries included), one process-wide spacing.

What counts as garbage (``SourceError``: the whole answer is unusable, nothing stored,
the papers are asked again at the next fetch): a body that is not an Atom feed (an HTML
error page), XML that is not well-formed (a truncated body), an ``Error`` entry (arXiv's
way of refusing a query). Per paper: an id that was not asked for, or none of whose
categories is a real arXiv category, is skipped; unknown category terms are dropped.
"""

from __future__ import annotations

import threading
import time
import xml.sax
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import feedparser

from digest.sources.arxiv_taxonomy import is_arxiv_category
from digest.sources.base import (
    SKIP_FILTERED,
    FetchResult,
    PaperData,
    SourceError,
    clean_text,
    clean_title,
    is_valid_arxiv_id,
    normalise_arxiv_id,
)
from digest.sources.http import HttpClient

NAME = "arxiv_api"
API_URL = "https://export.arxiv.org/api/query"
MAX_IDS_PER_REQUEST = 100
MIN_INTERVAL_SECONDS = 3.0
_ERROR_ID = "arxiv.org/api/errors"
# The skip reason of an id the API does not know (the refetch does not ask again).
UNKNOWN_ID = "unknown to the arXiv API"


class Spacing:
    """At least ``interval`` seconds between the starts of two requests (any thread)."""

    def __init__(
        self,
        interval: float = MIN_INTERVAL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            if self._last is not None:
                remaining = self._last + self.interval - self.clock()
                if remaining > 0:
                    self.sleep(remaining)
            self._last = self.clock()

    def sleep_at_least(self, seconds: float) -> None:
        """The HTTP client's wait before a retry: never shorter than the spacing."""
        self.sleep(max(seconds, self.interval))
        with self._lock:
            self._last = self.clock()


# One per process: two lookups in a row (today's, then a retry) still keep the spacing.
_PROCESS_SPACING = Spacing()


class ArxivApiLookup:
    name = NAME

    def __init__(self, *, client: HttpClient | None = None, spacing: Spacing | None = None):
        self.spacing = spacing or _PROCESS_SPACING
        self.client = client or HttpClient(sleep_func=self.spacing.sleep_at_least)

    def lookup(self, arxiv_ids: Sequence[str]) -> FetchResult:
        """Categories (primary first) and abstracts of ``arxiv_ids``, 100 per request.

        Raises ``SourceError`` when the first request fails; when a later one does, what
        earlier requests returned is kept and the failure is a warning.
        """
        result = FetchResult()
        ids = list(dict.fromkeys(arxiv_ids))
        for bad in [i for i in ids if not is_valid_arxiv_id(i)]:
            # One malformed id makes arXiv refuse the whole request: never send it.
            result.skip("not an arXiv id", bad)
        ids = [i for i in ids if is_valid_arxiv_id(i)]
        for number, batch in enumerate(_batches(ids, MAX_IDS_PER_REQUEST)):
            try:
                self._lookup_batch(batch, into=result)
            except SourceError as exc:
                if number == 0:
                    raise
                left = len(ids) - number * MAX_IDS_PER_REQUEST
                result.warnings.append(f"{left} id(s) not looked up: {exc}")
                break
        return result

    def _lookup_batch(self, batch: list[str], *, into: FetchResult) -> None:
        params = {"id_list": ",".join(batch), "max_results": str(len(batch))}
        self.spacing.wait()
        content = self.client.get(API_URL, params=params).content
        parsed = parse(content)
        asked = set(batch)
        found = set()
        for record in parsed.papers:
            if record.arxiv_id not in asked:
                into.skip("in the answer but not asked for", record.arxiv_id)
            elif record.arxiv_id not in found:
                found.add(record.arxiv_id)
                into.papers.append(record)
        into.skipped += parsed.skipped
        into.warnings += parsed.warnings
        answered = found | {s.identifier for s in parsed.skipped}
        for missing in [i for i in batch if i not in answered]:
            into.skip(UNKNOWN_ID, missing)


def recognises(head: bytes) -> bool:
    """Is a saved file (its first bytes, BOM and blanks stripped, lowercased) an API answer?"""
    return head.startswith(b"<") and b"<feed" in head and b"arxiv.org/api/" in head


def parse(content: bytes) -> FetchResult:
    """An API answer -> one PaperData per entry; ``SourceError`` if the answer is garbage."""
    feed = feedparser.parse(content)
    problem = feed.get("bozo_exception")
    if feed.bozo and isinstance(problem, xml.sax.SAXException):
        raise SourceError(f"arXiv API answer is not well-formed XML (truncated?): {problem}")
    if feed.get("version") != "atom10":
        raise SourceError("arXiv API answer is not an Atom feed (an error page?)")
    result = FetchResult()
    for entry in feed.entries:
        if _ERROR_ID in str(entry.get("id") or "") or entry.get("title") == "Error":
            reason = clean_text(entry.get("summary")) or "no reason given"
            raise SourceError(f"arXiv API refused the query: {reason}")
        record = _record(entry, result)
        if record is not None:
            result.papers.append(record)
    return result


def _record(entry: Any, result: FetchResult) -> PaperData | None:
    arxiv_id = normalise_arxiv_id(str(entry.get("id") or ""))
    if not is_valid_arxiv_id(arxiv_id):
        result.skip("entry without an arXiv id", str(entry.get("id") or "")[:80])
        return None
    terms = [str(t.get("term") or "") for t in entry.get("tags") or []]
    primary = str((entry.get("arxiv_primary_category") or {}).get("term") or "")
    known = [t for t in dict.fromkeys([primary, *terms]) if is_arxiv_category(t)]
    unknown = sorted({t for t in [primary, *terms] if t and not is_arxiv_category(t)})
    if unknown:
        # ACM/MSC class codes share the element with real categories: not worth a warning.
        reason = f"not arXiv categories, dropped: {', '.join(unknown)}"
        result.skip(reason, arxiv_id, kind=SKIP_FILTERED)
    if not known:
        result.skip("no known arXiv category", arxiv_id)
        return None
    return PaperData(
        arxiv_id=arxiv_id,
        title=clean_title(entry.get("title")) or arxiv_id,
        source=NAME,
        abstract=clean_text(entry.get("summary")) or None,
        categories=known,
    )


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
