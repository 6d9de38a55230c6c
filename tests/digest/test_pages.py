"""The public pages' data: cards, and the page cache keyed by the catalogue version."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache

from digest import pages
from digest.catalogue import catalogue_ingest
from digest.catalogue.version import VERSION_KEY, catalogue_version
from digest.sources.base import FetchResult, PaperData

DAY = date(2026, 7, 1)
# Nothing listens on port 1: every cache call fails as with Redis down.
CACHE_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _fetch(*records: PaperData, day: date = DAY) -> None:
    catalogue_ingest(source="hf_api", day=day, result=FetchResult(papers=list(records)))


def _paper(arxiv_id: str, title: str, upvotes: int = 10) -> PaperData:
    return PaperData(arxiv_id=arxiv_id, title=title, source="hf_api", upvotes=upvotes)


def test_the_byline_shortens_long_author_lists_and_adds_the_organisation():
    assert pages.byline(authors=["A", "B"], organization="") == "A, B"
    assert pages.byline(authors=["A", "B", "C", "D"], organization="Lab") == "A, B, C et al. · Lab"


def test_a_card_keeps_only_https_thumbnails(paper_factory):
    good = paper_factory(thumbnail_url="https://cdn.example/t.png", github_repo="https://g/x")
    bad = paper_factory(thumbnail_url="http://cdn.example/t.png")
    assert pages.card_from_paper(good).thumbnail_url == "https://cdn.example/t.png"
    assert pages.card_from_paper(good).code_url == "https://g/x"
    assert pages.card_from_paper(bad).thumbnail_url == ""


def test_a_fetch_that_changes_the_catalogue_changes_the_cached_trending_list(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _fetch(_paper("2607.00001", "First paper"))
    assert [c.title for c in pages.trending().cards] == ["First paper"]
    before = catalogue_version()

    with django_capture_on_commit_callbacks(execute=True):
        _fetch(_paper("2607.00002", "Second paper", upvotes=99))

    assert catalogue_version() != before
    assert [c.title for c in pages.trending().cards] == ["Second paper", "First paper"]


def test_without_a_fetch_the_cached_list_is_served(db, paper_trend_factory):
    paper_trend_factory(paper__title="Cached one", day=DAY)
    assert [c.title for c in pages.trending().cards] == ["Cached one"]
    paper_trend_factory(paper__title="Added behind the cache's back", day=DAY)
    assert [c.title for c in pages.trending().cards] == ["Cached one"]  # cached: no fetch ran


def test_a_failed_fetch_keeps_the_version(db, django_capture_on_commit_callbacks):
    version = catalogue_version()
    with django_capture_on_commit_callbacks(execute=True):
        catalogue_ingest(source="hf_api", day=DAY, result=FetchResult(papers=[]))
    assert catalogue_version() == version


def test_the_version_is_set_once_and_kept():
    assert cache.get(VERSION_KEY) is None
    first = catalogue_version()
    assert first and catalogue_version() == first == cache.get(VERSION_KEY)


def test_a_cache_that_is_down_builds_every_time_without_errors(db, settings, paper_trend_factory):
    settings.CACHES = CACHE_DOWN
    assert catalogue_version() is None
    paper_trend_factory(paper__title="One", day=DAY)
    assert [c.title for c in pages.trending().cards] == ["One"]
    paper_trend_factory(paper__title="Two", day=DAY)
    assert sorted(c.title for c in pages.trending().cards) == ["One", "Two"]  # not cached


def test_archive_pages_list_days_newest_first(db, paper_trend_factory, monkeypatch):
    monkeypatch.setattr(pages, "ARCHIVE_DAYS_PER_PAGE", 2)
    for day in (date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 3)):
        paper_trend_factory(day=day, paper__title=f"Top of {day}")
    first = pages.archive_page(1)
    assert [d.day for d in first.days] == [date(2026, 7, 3), date(2026, 7, 2)]
    assert first.has_next and first.days[0].top_title == "Top of 2026-07-03"
    second = pages.archive_page(2)
    assert [d.day for d in second.days] == [date(2026, 7, 1)] and not second.has_next
