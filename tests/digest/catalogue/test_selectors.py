"""The order of "today's papers" follows what each source declares about votes."""

from __future__ import annotations

from datetime import date

import pytest

from digest.catalogue import paper_list_for_day
from digest.sources.hf_page import HfPageSource

DAY = date(2026, 7, 1)


@pytest.fixture
def trends(paper_trend_factory):
    def trend(arxiv_id: str, source: str, *, upvotes: int, rank: int) -> None:
        paper_trend_factory(
            day=DAY, source=source, upvotes=upvotes, rank=rank, paper__arxiv_id=arxiv_id
        )

    trend("2607.00001", "hf_api", upvotes=10, rank=1)
    trend("2607.00002", "hf_page", upvotes=90, rank=1)
    trend("2607.00003", "arxiv_rss", upvotes=0, rank=1)


def _ids() -> list[str]:
    return [p.arxiv_id for p in paper_list_for_day(day=DAY)]


def test_voted_papers_come_first_by_votes(trends):
    assert _ids() == ["2607.00002", "2607.00001", "2607.00003"]


def test_a_source_without_community_votes_ranks_by_its_own_order(trends, monkeypatch):
    monkeypatch.setattr(HfPageSource, "community_votes", False)

    assert _ids() == ["2607.00001", "2607.00002", "2607.00003"]
