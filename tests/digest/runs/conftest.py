from __future__ import annotations

import importlib.util
import sys
import types
from datetime import UTC, date, datetime

import pytest
from django.core.cache import cache

from digest import emails


def _install_ranking_inputs_fallback() -> None:
    """Until digest/ranking_inputs.py lands (another engineer), a minimal stand-in so
    these tests exercise the real digest.ranking.rank_for_all."""
    if importlib.util.find_spec("digest.ranking_inputs") is not None:
        return
    from digest import ranking

    module = types.ModuleType("digest.ranking_inputs")

    def candidate_from_paper(paper, *, today):
        return ranking.Candidate(
            arxiv_id=paper.arxiv_id,
            title=paper.title,
            abstract=paper.abstract,
            authors=tuple(paper.authors or ()),
            categories=tuple(paper.categories or ()),
            upvotes=paper.upvotes,
        )

    def profiles_for_subscribers(subscribers, *, exclude=None):
        exclude = exclude or {}
        return [
            ranking.Profile(
                key=sub.pk,
                interests=tuple(x.strip() for x in sub.interests.split(",") if x.strip()),
                categories=tuple(sub.categories or ()),
                authors=tuple(sub.followed_authors or ()),
                exclude=frozenset(exclude.get(sub.pk, ())),
                k=sub.digest_size,
            )
            for sub in subscribers
        ]

    def reference_candidates(arxiv_ids, *, today):
        return []

    module.candidate_from_paper = candidate_from_paper
    module.profiles_for_subscribers = profiles_for_subscribers
    module.reference_candidates = reference_candidates
    sys.modules["digest.ranking_inputs"] = module
    import digest

    digest.ranking_inputs = module


_install_ranking_inputs_fallback()

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
