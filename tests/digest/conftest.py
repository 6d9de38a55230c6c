from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core.cache import cache

from digest.emails import digest as emails
from digest.sources import arxiv_api

DAY = date(2026, 11, 17)  # a Tuesday
TITLES = [
    "Diffusion models for long video generation",
    "Retrieval-augmented generation with sparse memory",
    "Scaling laws for mixture-of-experts language models",
    "A benchmark for robotic manipulation from pixels",
    "Graph neural networks for protein folding",
]


@pytest.fixture(autouse=True)
def _clean_state():
    # The Django cache is Redis in CI: tick locks and rate windows must not leak.
    cache.clear()
    emails._renderers.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_arxiv_api_waits(monkeypatch):
    # The process-wide 3 s spacing of arXiv API requests, without waiting in tests
    # (tests/digest/sources/test_arxiv_api.py checks the spacing with a fake clock).
    monkeypatch.setattr(arxiv_api, "_PROCESS_SPACING", arxiv_api.Spacing(sleep=lambda s: None))


@pytest.fixture
def day() -> date:
    return DAY


@pytest.fixture
def papers(paper_trend_factory):
    """Five papers trending on DAY."""
    trends = [
        paper_trend_factory(
            day=DAY,
            paper__title=TITLES[i],
            paper__upvotes=50 - i,
            paper__github_repo="https://github.com/example/repo" if i == 0 else "",
            paper__github_stars=1234 if i == 0 else None,
            paper__ai_summary="A short summary." if i == 0 else "",
            paper__sources=["hf_api"],
        )
        for i in range(5)
    ]
    return [t.paper for t in trends]


def at_utc(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
