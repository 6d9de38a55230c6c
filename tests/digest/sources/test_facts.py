"""What each source declares about itself (digest/sources/base.py docstring)."""

from __future__ import annotations

import pytest

from digest.sources import SOURCES
from digest.sources.arxiv_rss import ArxivRssSource
from digest.sources.base import Source
from digest.sources.hf_api import HfApiSource
from digest.sources.hf_page import HfPageSource


def test_hf_api_keeps_past_days_carries_votes_and_has_its_own_paper_page():
    assert HfApiSource.refetch_previous_day
    assert HfApiSource.community_votes
    assert HfApiSource.paper_url("2407.21783") == "https://huggingface.co/papers/2407.21783"
    assert HfApiSource.file_suffixes == {".json"}


def test_hf_page_keeps_past_days_and_carries_votes_but_links_to_arxiv():
    assert HfPageSource.refetch_previous_day
    assert HfPageSource.community_votes
    assert HfPageSource.paper_url("2407.21783") is None
    assert HfPageSource.file_suffixes == {".html", ".htm"}


def test_arxiv_only_holds_today_and_has_no_votes():
    assert not ArxivRssSource.refetch_previous_day
    assert not ArxivRssSource.community_votes
    assert ArxivRssSource.paper_url("2407.21783") is None
    assert ArxivRssSource.file_suffixes == {".xml", ".rss", ".atom", ".rdf"}


def test_the_default_precedence_is_api_then_page_then_feed():
    ranked = sorted(SOURCES.values(), key=lambda source: source.precedence)
    assert ranked == [HfApiSource, HfPageSource, ArxivRssSource]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'[{"paper": {}}]', HfApiSource),
        (b'{"dailypapers": []}', HfApiSource),
        (b"<!doctype html><html>", HfPageSource),
        (b"<html lang=en>", HfPageSource),
        (b'<?xml version="1.0"?><rss version="2.0">', ArxivRssSource),
        (b'<feed xmlns="http://www.w3.org/2005/atom">', ArxivRssSource),
        (b"<rdf:rdf>", ArxivRssSource),
    ],
)
def test_each_source_recognises_only_its_own_format(head, expected):
    assert [s for s in SOURCES.values() if s.recognises(head)] == [expected]


def test_the_base_class_declares_nothing_about_a_new_source():
    assert not Source.refetch_previous_day and not Source.community_votes
    assert not Source.recognises(b"[]")
    assert Source.paper_url("2407.21783") is None
    assert Source.file_suffixes == frozenset()


def test_every_source_is_registered_under_its_own_name():
    assert all(name == source.name for name, source in SOURCES.items())
