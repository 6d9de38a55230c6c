"""Hugging Face daily papers API: ``GET /api/daily_papers?date=YYYY-MM-DD``.

Handles the current schema and the 2024 one (see tests/fixtures/sources/README.md):
upvotes live in ``paper.upvotes``; the trending day is ``paper.submittedOnDailyAt``,
falling back to the top-level ``publishedAt`` (which in 2024 *was* the submission time).
The item parser is shared with the papers page, whose island carries the same items.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime

from digest.sources.base import (
    FetchResult,
    PaperData,
    Source,
    SourceError,
    clean_text,
    clean_title,
    decode_body,
    is_valid_arxiv_id,
    normalise_arxiv_id,
    squash_whitespace,
)

API_URL = "https://huggingface.co/api/daily_papers"
PAPER_URL = "https://huggingface.co/papers"
MAX_URL_LENGTH = 500  # Paper URL fields
MAX_ORGANIZATION_LENGTH = 200


class BadRecord(Exception):
    def __init__(self, reason: str, identifier: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.identifier = identifier


class HfApiSource(Source):
    name = "hf_api"
    precedence = 10  # the richest record: abstract, AI summary, organization, GitHub
    # HF keeps every day's list, and its upvotes keep growing after the day.
    refetch_previous_day = True
    community_votes = True
    file_suffixes = frozenset({".json"})

    @classmethod
    def recognises(cls, head: bytes) -> bool:
        return head[:1] in (b"[", b"{")

    @classmethod
    def paper_url(cls, arxiv_id: str) -> str | None:
        # The HF page has the discussion and the votes a reader came for.
        return f"{PAPER_URL}/{arxiv_id}"

    def fetch(self, day: date) -> FetchResult:
        response = self.client.get(API_URL, params={"date": day.isoformat()})
        return self.parse(response.content, day=day)

    def fetch_period(self, *, week: str | None = None, month: str | None = None) -> FetchResult:
        """A whole ISO week ("2026-W27") or month ("2026-07") in one call, for backfills.

        Each record's ``trending_day`` says which day it belongs to.
        """
        if (week is None) == (month is None):
            raise ValueError("pass exactly one of week= or month=")
        params = {"week": week} if week else {"month": month or ""}
        return self.parse(self.client.get(API_URL, params=params).content)

    def parse(self, content: bytes, *, day: date | None = None) -> FetchResult:
        text, lossy = decode_body(content)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"malformed JSON: {exc}") from exc
        return parse_daily_items(_items_of(data), source=self.name, lossy=lossy)


def _items_of(data: object) -> list[object]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        papers = data.get("dailyPapers")
        if isinstance(papers, list):  # the papers page island's shape
            return papers
        if "error" in data:
            raise SourceError(f"API answered an error: {str(data['error'])[:200]}")
    raise SourceError(f"expected a JSON array of papers, got {type(data).__name__}")


def parse_daily_items(items: list[object], *, source: str, lossy: bool = False) -> FetchResult:
    """API/page items -> records, skipping bad and duplicate items with their reason."""
    result = FetchResult()
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        try:
            record = parse_daily_item(item, source=source)
        except BadRecord as bad:
            result.skip(bad.reason, bad.identifier or f"item {position}")
            continue
        if record.arxiv_id in seen:
            result.skip("duplicate id in response", record.arxiv_id)
            continue
        seen.add(record.arxiv_id)
        record.rank = len(result.papers) + 1
        result.papers.append(record)
    result.day = _most_common_day(result.papers)
    if lossy:
        result.warnings.append(_lossy_warning(result.papers))
    return result


def parse_daily_item(item: object, *, source: str) -> PaperData:
    if not isinstance(item, dict):
        raise BadRecord(f"item is {type(item).__name__}, not an object")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise BadRecord("no 'paper' object")
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise BadRecord("missing paper.id")
    arxiv_id = normalise_arxiv_id(raw_id)
    if not is_valid_arxiv_id(arxiv_id):
        raise BadRecord(f"not an arXiv id: {raw_id[:40]!r}", raw_id[:40])
    title = clean_title(paper.get("title")) or clean_title(item.get("title"))
    if not title:
        raise BadRecord("missing title", arxiv_id)
    submitted = _as_datetime(paper.get("submittedOnDailyAt")) or _as_datetime(
        item.get("publishedAt")
    )
    return PaperData(
        arxiv_id=arxiv_id,
        title=title,
        source=source,
        abstract=clean_text(paper.get("summary") or item.get("summary")) or None,
        authors=_authors(paper.get("authors")),
        organization=_organization(paper.get("organization") or item.get("organization")),
        published_at=_as_datetime(paper.get("publishedAt")),
        trending_day=submitted.date() if submitted else None,
        upvotes=_as_int(paper.get("upvotes", item.get("upvotes"))),
        num_comments=_as_int(item.get("numComments")),
        github_repo=_as_url(paper.get("githubRepo")),
        github_stars=_as_int(paper.get("githubStars")),
        project_page=_as_url(paper.get("projectPage")),
        thumbnail_url=_as_url(item.get("thumbnail")),
        ai_summary=clean_text(paper.get("ai_summary")) or None,
        ai_keywords=_keywords(paper.get("ai_keywords")),
    )


def _authors(value: object) -> list[str] | None:
    if not isinstance(value, list):
        return None
    names = (a.get("name") if isinstance(a, dict) else a for a in value)
    return [squash_whitespace(n) for n in names if isinstance(n, str) and n.strip()]


def _organization(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    name = value.get("fullname") or value.get("name")
    return squash_whitespace(name)[:MAX_ORGANIZATION_LENGTH] if isinstance(name, str) else None


def _keywords(value: object) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [squash_whitespace(k) for k in value if isinstance(k, str) and k.strip()]


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):  # bool is an int subclass; a flag is not a count
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _as_url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value.startswith(("https://", "http://")) or len(value) > MAX_URL_LENGTH:
        return None
    return value


def _as_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _most_common_day(papers: list[PaperData]) -> date | None:
    days = Counter(p.trending_day for p in papers if p.trending_day)
    return days.most_common(1)[0][0] if days else None


def _lossy_warning(papers: list[PaperData]) -> str:
    damaged = [
        p.arxiv_id
        for p in papers
        if "\ufffd" in f"{p.title}{p.abstract}{p.authors}{p.organization}{p.ai_summary}"
    ]
    where = f" in {', '.join(damaged)}" if damaged else ""
    return f"response was not valid UTF-8; bad bytes replaced with U+FFFD{where}"
