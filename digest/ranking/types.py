"""The ranker's value types: what goes in (Candidate, Profile) and what comes out
(Pick, RankedColumns)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digest.ranking.conf import no_gc


@dataclass(frozen=True, slots=True)
class Candidate:
    arxiv_id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    ai_keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    upvotes: int = 0
    age_days: float = 0.0


@dataclass(frozen=True, slots=True)
class Profile:
    key: int | str
    interests: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    exclude: frozenset[str] = frozenset()
    k: int = 10


@dataclass(frozen=True, slots=True)
class Pick:
    arxiv_id: str
    score: float
    reason: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RankedColumns:
    """Every profile's picks as columns. Picks of profile i are rows offsets[i]:offsets[i+1],
    best first; ``paper`` indexes the Ranker's candidates, ``reason`` indexes
    ``reason_texts`` (Pick.reason) and ``reason_parts`` (Pick.reasons). ``score`` is not
    rounded (Pick.score is, to 4 decimals)."""

    offsets: np.ndarray
    paper: np.ndarray
    score: np.ndarray
    reason: np.ndarray
    reason_texts: list[str]
    reason_parts: list[tuple[str, ...]]

    @classmethod
    def empty(cls, n_profiles: int) -> RankedColumns:
        none = np.zeros(0, np.int32)
        offsets = np.zeros(n_profiles + 1, np.int64)
        return cls(offsets, none, np.zeros(0, np.float32), none.copy(), [], [])

    def picks(self, candidates: Sequence[Candidate]) -> list[list[Pick]]:
        """Pick objects, one list per profile (``candidates``: the Ranker's, same order)."""
        with no_gc():
            reason = self.reason.tolist()
            ids = list(map([c.arxiv_id for c in candidates].__getitem__, self.paper.tolist()))
            scores = np.round(self.score.astype(np.float64), 4).tolist()
            texts = list(map(self.reason_texts.__getitem__, reason))
            parts = list(map(self.reason_parts.__getitem__, reason))
            flat = list(map(Pick, ids, scores, texts, parts))
            return [flat[a:b] for a, b in itertools.pairwise(self.offsets.tolist())]
