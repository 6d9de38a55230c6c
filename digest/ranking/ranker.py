"""Personal ranking of the day's papers for many readers at once (pure, no ORM).

Every signal of the table (signals.py) is a (readers x papers) array in [0, 1],
computed for a chunk of readers with one sparse or dense product; the blend, the
diversity step (MMR, selection.py) and the top-k pick are array operations over the
whole chunk, and reasons are worded once per distinct combination of their parts
(reasons.py). The day's papers are prepared once per ``Ranker``, for any number of calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from digest.ranking.conf import no_gc, single_blas
from digest.ranking.corpus import Day
from digest.ranking.profiles import Chunk, ProfileArrays
from digest.ranking.reasons import ReasonCodes, ReasonPart
from digest.ranking.selection import select
from digest.ranking.signals import REASON_ORDER, SIGNALS, Score, Signal, resolve_weights
from digest.ranking.types import Candidate, Pick, Profile, RankedColumns

# Chunks scored at once (threads: numpy and scipy release the GIL in the heavy loops).
THREADS = 2


class Ranker:
    """Ranks the day's candidates for any number of profiles, in as many calls as wanted.

    The per-day work (the corpus, its tf-idf and similarities, popularity, the papers'
    categories and authors, the phrase tf-idf of every interest phrase seen so far) is
    done once and kept; each ``rank``/``rank_columns`` call only reads its profiles.
    Ranking a batch gives exactly what ``rank_for_all`` gives for that batch alone.
    """

    def __init__(
        self,
        candidates: Sequence[Candidate],
        *,
        reference: Sequence[Candidate] = (),
        weights: Mapping[str, float] | None = None,
    ) -> None:
        self.candidates = tuple(candidates)
        self.weights = resolve_weights(weights)
        self._day = Day(self.candidates, reference) if self.candidates else None

    def rank(self, profiles: Sequence[Profile]) -> list[list[Pick]]:
        """Top ``profile.k`` candidates for each profile, best first, as Pick objects."""
        with no_gc():
            return self.rank_columns(profiles).picks(self.candidates)

    def rank_columns(self, profiles: Sequence[Profile]) -> RankedColumns:
        """The same picks as ``rank``, as flat arrays (no per-pick Python objects)."""
        if self._day is None or not profiles:
            return RankedColumns.empty(len(profiles))
        with no_gc(), single_blas():
            return _rank(self._day, profiles, self.weights)


def rank_for_all(
    candidates: Sequence[Candidate],
    profiles: Sequence[Profile],
    *,
    reference: Sequence[Candidate] = (),
    weights: Mapping[str, float] | None = None,
) -> list[list[Pick]]:
    """Top ``profile.k`` candidates for each profile, best first, with a score and a reason."""
    return Ranker(candidates, reference=reference, weights=weights).rank(profiles)


def rank_columns(
    candidates: Sequence[Candidate],
    profiles: Sequence[Profile],
    *,
    reference: Sequence[Candidate] = (),
    weights: Mapping[str, float] | None = None,
) -> RankedColumns:
    """``rank_for_all`` as columns (see RankedColumns): what a bulk writer wants."""
    return Ranker(candidates, reference=reference, weights=weights).rank_columns(profiles)


def blend(
    table: Sequence[Signal],
    signals: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    shape: tuple[int, int],
    liking: np.ndarray | None = None,
) -> np.ndarray:
    """The weighted sum of the signals over the table (absent signals and 0 weights
    skipped). ``liking``: the rows of readers with a like, whose weights are their own
    (Signal.with_likes); the other rows' sums are bit for bit those of one weight."""
    base = np.zeros(shape, np.float32)
    some = liking is not None and bool(liking.any())
    for signal in table:
        if signal.name not in signals or not weights[signal.name]:
            continue
        weight: np.ndarray | np.float32 = np.float32(signal.weight_for(weights, False))
        if some and signal.weight_for(weights, True) != weight:
            liked_weight = np.float32(signal.weight_for(weights, True))
            weight = np.where(liking, liked_weight, weight).astype(np.float32)[:, None]  # type: ignore[arg-type]
        base += signals[signal.name] * weight
    return base


def _rank(day: Day, profiles: Sequence[Profile], weights: Mapping[str, float]) -> RankedColumns:
    arrays = ProfileArrays(profiles, day)
    scores = _bind(arrays, weights)
    table = [signal for signal in SIGNALS if signal.name in scores]
    reasons = ReasonCodes(reason_parts(table), arrays)
    forcing = [s.name for s in table if s.forces]

    def score(rows: np.ndarray) -> tuple[np.ndarray, ...]:
        chunk = Chunk(arrays, rows)
        signals = {name: fn(chunk) for name, fn in scores.items()}
        liking = (chunk.liked != arrays.pad_row).any(axis=1)
        base = blend(table, signals, weights, (len(rows), day.corpus.n), liking)
        forced = np.zeros(base.shape, bool)
        for name in forcing:
            forced |= signals[name] > 0
        picked = select(day.corpus, chunk.k, base, forced, chunk.excluded, weights["diversity"])
        return reasons.emit(chunk, picked, base, signals)

    chunks = arrays.chunks()
    if THREADS > 1 and len(chunks) > 1:
        # The chunks' array work releases the GIL; map() keeps the chunks' order.
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(score, chunks))
    else:
        results = [score(rows) for rows in chunks]
    return reasons.columns(results, len(profiles), day.position)


def reason_parts(table: Sequence[Signal]) -> list[tuple[str, ReasonPart]]:
    """The reason parts of these signals, named, in REASON_ORDER."""
    parts = {s.name: s.reason for s in table if s.reason is not None}
    return [(name, parts[name]) for name in REASON_ORDER if name in parts]


def _bind(arrays: ProfileArrays, weights: Mapping[str, float]) -> dict[str, Score]:
    """Each signal's score function for this call; signals that are off are left out."""
    scores = {}
    for signal in SIGNALS:
        fn = signal.bind(arrays, weights[signal.name])
        if fn is not None:
            scores[signal.name] = fn
    return scores
