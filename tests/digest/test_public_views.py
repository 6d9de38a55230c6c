"""The public archive, a day's page and the public Atom feed (nothing personal)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from django.core.cache import cache

from tests.digest.test_pages import CACHE_DOWN

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def days(paper_trend_factory):
    for day, title in [(date(2026, 7, 1), "Older paper"), (date(2026, 7, 2), "Newer paper")]:
        paper_trend_factory(day=day, paper__title=title, paper__ai_summary=f"About {title}.")


def test_the_archive_lists_days_newest_first_with_meta_tags(db, client, days):
    response = client.get("/archive/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("/archive/2026-07-02/") < html.index("/archive/2026-07-01/")
    assert "<title>Archive of trending ML papers · Paper Digest</title>" in html
    assert '<meta name="description" content="Every day' in html
    assert '<meta property="og:title" content="Paper Digest archive' in html


def test_a_day_page_shows_that_days_cards(db, client, days):
    html = client.get("/archive/2026-07-02/").content.decode()
    assert "Trending on Thu 2 July 2026" in html and "Newer paper" in html
    assert "About Newer paper." in html and "Older paper" not in html
    assert '<meta property="og:type" content="article">' in html
    assert "Trending ML papers on 2 July 2026" in html  # the title
    assert 'name="liked"' not in html  # no form here


@pytest.mark.parametrize(
    "path",
    ["/archive/2026-07-03/", "/archive/2026-02-31/", "/archive/?page=2", "/archive/?page=x"],
)
def test_unknown_days_and_pages_are_404s(db, client, days, path):
    assert client.get(path).status_code == 404


def test_the_public_feed_is_atom_with_the_latest_days(db, client, days):
    response = client.get("/feed.xml")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == ["Newer paper", "Older paper"]
    assert entries[0].findtext(f"{ATOM}summary") == "About Newer paper."
    assert entries[0].findtext(f"{ATOM}updated").startswith("2026-07-02")
    assert feed.findtext(f"{ATOM}updated").startswith("2026-07-02")
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 2


def test_the_feed_is_valid_with_no_papers(db, client):
    feed = ET.fromstring(client.get("/feed.xml").content)
    assert feed.findall(f"{ATOM}entry") == []


def test_public_pages_work_with_the_cache_down(db, client, settings, days):
    settings.CACHES = CACHE_DOWN
    for path in ("/archive/", "/archive/2026-07-01/", "/feed.xml"):
        assert client.get(path).status_code == 200


def test_public_pages_are_cached_until_a_fetch(db, client, days, paper_trend_factory):
    assert "Sneaked in" not in client.get("/archive/2026-07-02/").content.decode()
    paper_trend_factory(day=date(2026, 7, 2), paper__title="Sneaked in")
    assert "Sneaked in" not in client.get("/archive/2026-07-02/").content.decode()
    from digest.catalogue.version import catalogue_changed

    catalogue_changed()
    assert "Sneaked in" in client.get("/archive/2026-07-02/").content.decode()
