""" "See your digest": the papers a profile typed into a form would get today.

The same ranker as the emails (digest.ranking.Ranker) over the same papers (the latest
trending day, as a daily edition on that day gets them), for one unsaved profile. The
Ranker's per-day work is done once per process and catalogue version, not per keystroke.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from digest import ranking
from digest.catalogue.selectors import latest_trending_day, paper_list_for_day
from digest.catalogue.version import catalogue_version
from digest.pages import Card, card_from_paper
from digest.ranking import inputs as ranking_inputs


@dataclass(frozen=True, slots=True)
class PreviewPick:
    card: Card
    reason: str


@dataclass(slots=True)
class _Day:
    version: str | None
    day: date | None
    candidates: list[ranking.Candidate]
    ranker: ranking.Ranker
    cards: dict[str, Card]


_lock = threading.Lock()
_day: _Day | None = None


def _ranker_for_today() -> _Day:
    """The Ranker of the latest trending day, rebuilt when the catalogue version moves on.

    With the cache down (version None) it is rebuilt on every call: slower, still right.
    """
    global _day
    version = catalogue_version()
    with _lock:
        if _day is not None and version is not None and _day.version == version:
            return _day
    day = latest_trending_day()
    papers = paper_list_for_day(day=day) if day is not None else []
    candidates = [ranking_inputs.candidate_from_paper(p, today=day) for p in papers if day]
    ranking_inputs.load_paper_vectors(candidates)  # stored once per paper, as editions read them
    built = _Day(
        version=version,
        day=day,
        candidates=candidates,
        ranker=ranking.Ranker(candidates),
        cards={p.arxiv_id: card_from_paper(p) for p in papers},
    )
    with _lock:
        _day = built
    return built


def digest_preview(
    *,
    interests: str,
    categories: Sequence[str] = (),
    followed_authors: Sequence[str] = (),
    liked_papers: Sequence[str] = (),
    digest_size: int = 10,
) -> list[PreviewPick]:
    """The picks, best first, each with its reason, for a profile that is not saved."""
    today = _ranker_for_today()
    profile = ranking.Profile(
        key="preview",
        interests=ranking.parse_interests(interests),
        categories=tuple(categories),
        liked=tuple(liked_papers),
        authors=tuple(followed_authors),
        k=digest_size,
    )
    ranker = today.ranker
    elsewhere = [aid for aid in liked_papers if aid not in today.cards]
    if elsewhere and today.day is not None:
        # Liked papers from other days are reference papers, as in an edition's ranker:
        # a ranker of its own for this call (the shared one stays as it is).
        reference = ranking_inputs.reference_candidates(elsewhere, today=today.day)
        if reference:
            ranking_inputs.load_paper_vectors(reference)
            ranker = ranking.Ranker(today.candidates, reference=reference)
    (picks,) = ranker.rank([profile])
    return [PreviewPick(card=today.cards[p.arxiv_id], reason=p.reason) for p in picks]


def reset() -> None:
    """Forget the cached Ranker (tests)."""
    global _day
    with _lock:
        _day = None
