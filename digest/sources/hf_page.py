"""Hugging Face papers page: ``https://huggingface.co/papers/date/YYYY-MM-DD``.

The page is Svelte SSR. The ``DailyPapers`` island's ``data-props`` holds the same items
as the API (parsed by the API's item parser); when that JSON is missing or unreadable we
fall back to the server-rendered cards, which carry id, title, upvotes, thumbnail and
comment count but no authors or abstract.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from bs4 import BeautifulSoup, Tag

from digest.sources.base import (
    SKIP_FILTERED,
    FetchResult,
    PaperData,
    Source,
    SourceError,
    clean_title,
    decode_body,
    is_valid_arxiv_id,
    normalise_arxiv_id,
)
from digest.sources.hf_api import parse_daily_items

PAGE_URL = "https://huggingface.co/papers"
_PAPER_HREF = re.compile(r"^/papers/([^/?#]+)$")
_NUMBER = re.compile(r"\d+")


class HfPageSource(Source):
    name = "hf_page"
    precedence = 20  # the same data as the API, but scraped: only fills its blanks
    refetch_previous_day = True  # the page of a past day stays up; its votes keep growing
    community_votes = True
    file_suffixes = frozenset({".html", ".htm"})

    @classmethod
    def recognises(cls, head: bytes) -> bool:
        return head.startswith((b"<!doctype html", b"<html"))

    def fetch(self, day: date) -> FetchResult:
        response = self.client.get(f"{PAGE_URL}/date/{day.isoformat()}")
        result = self.parse(response.content, day=day)
        if result.day and result.day != day:
            # HF shows the nearest published day (e.g. on weekends): not this day's list.
            return _other_day(result, day)
        return result

    def parse(self, content: bytes, *, day: date | None = None) -> FetchResult:
        text, lossy = decode_body(content)
        soup = BeautifulSoup(text, "html.parser")
        props, problem = _island_props(soup)
        if props is not None:
            result = parse_daily_items(props["dailyPapers"], source=self.name, lossy=lossy)
            result.day = _props_day(props) or result.day
            return result
        result = _parse_cards(soup, source=self.name)
        if not result.papers and not result.skipped:
            raise SourceError(f"no papers on the page ({problem})")
        result.warnings.append(f"{problem}; used the server-rendered cards")
        if lossy:
            result.warnings.append("page was not valid UTF-8; bad bytes replaced")
        return result


def _island_props(soup: BeautifulSoup) -> tuple[dict[str, Any] | None, str]:
    island = soup.find(None, {"data-target": "DailyPapers"})
    if not isinstance(island, Tag) or not island.get("data-props"):
        return None, "no DailyPapers data-props"
    try:
        props = json.loads(str(island["data-props"]))  # bs4 has already unescaped it
    except json.JSONDecodeError as exc:
        return None, f"DailyPapers data-props is not valid JSON ({exc.msg})"
    if not isinstance(props, dict) or not isinstance(props.get("dailyPapers"), list):
        return None, "DailyPapers data-props has no dailyPapers list"
    return props, ""


def _props_day(props: dict[str, object]) -> date | None:
    value = props.get("date")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def _parse_cards(soup: BeautifulSoup, *, source: str) -> FetchResult:
    result = FetchResult()
    seen: set[str] = set()
    for position, article in enumerate(soup.find_all("article"), start=1):
        record, reason = _parse_card(article, source=source)
        if record is None:
            result.skip(reason, f"card {position}")
        elif record.arxiv_id in seen:
            result.skip("duplicate id on page", record.arxiv_id)
        else:
            seen.add(record.arxiv_id)
            record.rank = len(result.papers) + 1
            result.papers.append(record)
    return result


def _parse_card(article: Tag, *, source: str) -> tuple[PaperData | None, str]:
    link = article.select_one('h3 > a[href^="/papers/"]')
    if link is None:
        return None, "card without a title link"
    match = _PAPER_HREF.match(str(link.get("href", "")))
    arxiv_id = normalise_arxiv_id(match.group(1)) if match else ""
    if not is_valid_arxiv_id(arxiv_id):
        return None, f"card link is not an arXiv id: {link.get('href')!r}"
    title = clean_title(link.get_text(" "))
    if not title:
        return None, f"card {arxiv_id} has no title"
    return (
        PaperData(
            arxiv_id=arxiv_id,
            title=title,
            source=source,
            upvotes=_card_upvotes(article),
            num_comments=_card_number(article.select_one('a[href$="#community"]')),
            thumbnail_url=_card_thumbnail(article),
        ),
        "",
    )


def _card_upvotes(article: Tag) -> int | None:
    # The "Submitted by" badge is also div.leading-none; the vote box holds only digits.
    for box in article.select("div.leading-none"):
        text = box.get_text(strip=True)
        if text.isdigit():
            return int(text)
    return None


def _card_number(tag: Tag | None) -> int | None:
    match = _NUMBER.search(tag.get_text()) if tag is not None else None
    return int(match.group(0)) if match else None


def _card_thumbnail(article: Tag) -> str | None:
    img = article.select_one('a[href^="/papers/"] img')
    src = str(img.get("src", "")) if img is not None else ""
    return src if src.startswith("https://") else None


def _other_day(result: FetchResult, day: date) -> FetchResult:
    filtered = FetchResult(day=result.day)
    filtered.skip(
        f"page shows {result.day}, not {day}: {len(result.papers)} paper(s) left out",
        kind=SKIP_FILTERED,
    )
    return filtered
