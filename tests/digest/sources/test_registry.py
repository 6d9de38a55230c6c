"""The registry's answers to questions that span sources (digest/sources/__init__.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.sources import (
    merge_precedence,
    public_paper_url,
    saved_file_suffixes,
    source_for_file,
    sources_refetching_previous_day,
    sources_with_community_votes,
)
from tests.digest.sources.helpers import FIXTURES, SAMPLE_DIR

SAVED_FILES = sorted(
    p for p in [*FIXTURES.rglob("*"), *SAMPLE_DIR.iterdir()] if p.is_file() and p.suffix != ".md"
)

# fetch_papers.detect_source as it was before each source declared its format (issue #12):
# the registry must give the same answer for every file.
_OLD_SUFFIX_SOURCE = {
    ".json": "hf_api",
    ".html": "hf_page",
    ".htm": "hf_page",
    ".xml": "arxiv_rss",
    ".rss": "arxiv_rss",
    ".atom": "arxiv_rss",
    ".rdf": "arxiv_rss",
}


def _old_detect_source(content: bytes, path: Path) -> str | None:
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head[:1] in (b"[", b"{"):
        return "hf_api"
    if head.startswith(b"<"):
        if b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head:
            return "arxiv_rss"
        if head.startswith((b"<!doctype html", b"<html")):
            return "hf_page"
    return _OLD_SUFFIX_SOURCE.get(path.suffix.lower())


@pytest.mark.parametrize("path", SAVED_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_it_recognises_every_fixture_as_before(path):
    content = path.read_bytes()
    assert source_for_file(content, suffix=path.suffix) == _old_detect_source(content, path)


def test_it_recognises_the_fixtures_by_content():
    expected = {
        "2026-07-01.json": "hf_api",
        "daily_papers_2024-03-12.json": "hf_api",
        "huggingface_papers_2024-08.html": "hf_page",
        "cs.AI.rss.xml": "arxiv_rss",
        "cs.AI.atom.xml": "arxiv_rss",
        "hep-ex_2018-05-23.rdf.xml": "arxiv_rss",
    }
    found = {
        name: source_for_file((FIXTURES / "real" / name).read_bytes(), suffix=".bin")
        for name in expected
    }
    assert found == expected


@pytest.mark.parametrize(
    ("content", "suffix", "expected"),
    [
        (b"\xef\xbb\xbf \n[]", ".txt", "hf_api"),  # BOM and blank lines skipped
        (b"<!DOCTYPE HTML><html>", ".txt", "hf_page"),  # case does not matter
        (b"<!doctype html><link rel=alternate><rss>", ".html", "arxiv_rss"),  # feed first
        (b"garbage", ".JSON", "hf_api"),  # unknown content: the suffix decides
        (b"<p>just a fragment</p>", ".htm", "hf_page"),
        (b"garbage", ".atom", "arxiv_rss"),
        (b"garbage", ".txt", None),
        (b"", "", None),
    ],
)
def test_it_falls_back_to_the_suffix_in_the_old_order(content, suffix, expected):
    assert source_for_file(content, suffix=suffix) == expected
    assert _old_detect_source(content, Path(f"saved{suffix}")) == expected


def test_it_knows_every_saved_file_suffix():
    assert saved_file_suffixes() == set(_OLD_SUFFIX_SOURCE)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (["hf_api"], "https://huggingface.co/papers/2407.21783"),
        (["hf_page", "hf_api", "arxiv_rss"], "https://huggingface.co/papers/2407.21783"),
        (["hf_page", "arxiv_rss"], None),
        (["arxiv_rss"], None),
        (["a_source_since_removed", "hf_api"], "https://huggingface.co/papers/2407.21783"),
        ([], None),
    ],
)
def test_it_links_the_hf_page_only_when_the_api_saw_the_paper(sources, expected):
    assert public_paper_url("2407.21783", sources) == expected


def test_settings_order_wins_over_each_sources_own_precedence(settings):
    settings.DIGEST_SOURCES = ["arxiv_rss", "hf_page"]

    assert merge_precedence() == ["arxiv_rss", "hf_page", "hf_api"]


def test_unconfigured_sources_follow_their_own_precedence(settings):
    settings.DIGEST_SOURCES = ["not_a_source"]  # merging must not fail over a typo

    assert merge_precedence() == ["hf_api", "hf_page", "arxiv_rss"]


def test_it_refetches_yesterday_only_for_enabled_sources_that_keep_past_days(settings):
    settings.DIGEST_SOURCES = ["arxiv_rss", "hf_page", "hf_api"]
    assert sources_refetching_previous_day() == ["hf_page", "hf_api"]

    settings.DIGEST_SOURCES = ["arxiv_rss"]
    assert sources_refetching_previous_day() == []


def test_votes_come_from_both_hf_sources_enabled_or_not(settings):
    settings.DIGEST_SOURCES = ["arxiv_rss"]

    assert sources_with_community_votes() == {"hf_api", "hf_page"}
