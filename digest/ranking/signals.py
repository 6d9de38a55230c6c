"""The signal table: every signal of the ranker as one named unit.

A unit is a name, a default weight, a sign (the disliked signal subtracts), a score
function over a chunk (readers x papers, each value in [0, 1]) and, optionally, how a
pick is explained by it (a ReasonPart). SIGNALS lists the units in the blend's order;
REASON_ORDER names the reason parts in the order a reason says them. The blend, the
selection and the reasons are generic over the table; see "add a signal" in
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy import sparse

from digest.ranking import semantic as ranking_semantic
from digest.ranking import taste as ranking_taste
from digest.ranking.conf import setting
from digest.ranking.corpus import Day
from digest.ranking.profiles import Chunk, ProfileArrays
from digest.ranking.reasons import Picked, ReasonPart
from digest.ranking.text import shorten

# Raw phrase tf-idf mass at which the keyword signal reaches 63% (1 - 1/e): about one
# distinctive phrase in the title, or two in the abstract.
KEYWORD_SATURATION = 4.0
# Cosine similarity (tf-idf) to liked/disliked papers, mapped linearly to [0, 1]. On the
# real HF papers the median cosine of two random papers is about 0.03 and of two papers
# on one topic 0.06-0.1 (abstracts share few exact words); near-duplicates are above 0.8.
SIM_FLOOR = 0.03
SIM_FULL = 0.25
LIKED_REASON_MIN = 0.25
SEMANTIC_REASON_MIN = 0.5
TASTE_REASON_MIN = 0.5
TRENDING_REASON_MIN = 0.6
# MMR: how much similarity to an already picked paper costs, as a share of its score.
DIVERSITY = 0.5

Score = Callable[[Chunk], np.ndarray]
# Per rank call: the score function for this call, or None when the signal is off.
Bind = Callable[[ProfileArrays, float], Score | None]


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    weight: float
    bind: Bind
    sign: float = 1.0
    reason: ReasonPart | None = None
    # A paper with this signal above 0 is always picked (a followed author's paper).
    forces: bool = False
    # The weight's factor for a reader with a like (weights["with_likes"] at 1, the
    # default): their own model (taste) says more than the priors that serve everyone.
    with_likes: float = 1.0

    def weight_for(self, weights: Mapping[str, float], liking: bool) -> float:
        """This signal's weight (signed) for a reader with a like or without."""
        weight = self.sign * weights[self.name]
        if liking:
            weight *= 1.0 + weights.get("with_likes", 0.0) * (self.with_likes - 1.0)
        return weight


def always(score: Score) -> Bind:
    """Most signals need nothing per call: the same score function, always on."""

    def bind(profiles: ProfileArrays, weight: float) -> Score:
        return score

    return bind


# --- Names on papers: followed authors, arXiv categories ------------------------------


@dataclass(frozen=True, slots=True)
class _NameSignal:
    """A hit when a paper carries one of the reader's names (an author they follow, a
    category they chose). ``kind`` names both the Day's PaperNames and the Chunk's ids;
    ``matrix`` the ProfileArrays' readers x names matrix."""

    kind: str
    matrix: str
    wording: str

    def score(self, chunk: Chunk) -> np.ndarray:
        readers = getattr(chunk.profiles, self.matrix)[chunk.rows]
        return _hits(readers, getattr(chunk.day, self.kind).matrix)

    def code(self, picked: Picked, before: Mapping[str, np.ndarray]) -> np.ndarray:
        ids = getattr(picked.chunk, self.kind)[picked.local]
        has = getattr(picked.chunk.day, self.kind).has[picked.paper[:, None], ids]
        return _first_hit(has, ids)

    def word(self, profiles: ProfileArrays, code: int) -> str:
        return self.wording.format(getattr(profiles.day, self.kind).text[code])

    def size(self, profiles: ProfileArrays) -> int:
        return len(getattr(profiles.day, self.kind).text)

    def reason(self) -> ReasonPart:
        return ReasonPart(self.code, self.word, self.size)


_AUTHORS = _NameSignal("authors", "author_matrix", "by {}, whom you follow")
_CATEGORIES = _NameSignal("categories", "category_matrix", "in {}")


# --- Interest phrases ---------------------------------------------------------------


def _keywords(chunk: Chunk) -> np.ndarray:
    profiles = chunk.profiles
    matrix = profiles.phrase_matrix[chunk.rows]
    raw = np.asarray(matrix @ profiles.phrase_weights[:, :-1].T, np.float32)
    keywords: np.ndarray = 1.0 - np.exp(-raw / np.float32(KEYWORD_SATURATION))
    return keywords


def _phrase_code(picked: Picked, before: Mapping[str, np.ndarray]) -> np.ndarray:
    """ "matches 'a', 'b'": the profile's two phrases that weigh most in the paper, coded
    as first * width + second + 1 (width: the call's phrase spellings + 1), -1 for none."""
    chunk, local, paper = picked.chunk, picked.local, picked.paper
    table = chunk.profiles.phrase_weights
    # np.take on flat offsets: several times faster than 2-D fancy indexing.
    weights = np.take(table, paper[:, None] * table.shape[1] + chunk.phrases[local])
    line = np.arange(len(local))
    first = weights.argmax(axis=1)
    has_first = weights[line, first] > 0
    weights[line, first] = 0.0
    second = weights.argmax(axis=1)
    has_second = weights[line, second] > 0
    spellings = chunk.spellings[local]
    one = spellings[line, first]
    two = np.where(has_second, spellings[line, second], -1)
    return np.where(has_first, one * _phrase_width(chunk.profiles) + (two + 1), -1)


def _phrase_word(profiles: ProfileArrays, code: int) -> str:
    one, two = divmod(code, _phrase_width(profiles))
    quoted = ", ".join(f"'{profiles.phrase_text[p]}'" for p in (one, two - 1) if p >= 0)
    return f"matches {quoted}"


def _phrase_width(profiles: ProfileArrays) -> int:
    return len(profiles.phrase_text) + 1


def _phrase_size(profiles: ProfileArrays) -> int:
    return _phrase_width(profiles) ** 2


# --- Semantic (DIGEST_SEMANTIC, on by default; the model: semantic.py) ---------------


def _bind_semantic(profiles: ProfileArrays, weight: float) -> Score | None:
    if not weight or not setting("DIGEST_SEMANTIC", True):
        return None
    table = _prepared(profiles, "semantic", _paper_table)
    if table is None:
        return None
    phrases, phrase_matrix = profiles.phrase_key_matrix()
    scorer = ranking_semantic.scorer_from(table, phrases, phrase_matrix, profiles.liked_csr)
    if scorer is None:
        return None

    def score(chunk: Chunk) -> np.ndarray:
        return scorer.scores(chunk.rows)

    return score


def _semantic_code(picked: Picked, before: Mapping[str, np.ndarray]) -> np.ndarray:
    # Said only where no phrase of the profile is in the paper: a quote says more. And
    # only to a reader with interests: without, the closeness is to their likes (taste).
    close = (picked.value("semantic") >= SEMANTIC_REASON_MIN) & (before["keywords"] < 0)
    close &= picked.chunk.profiles.has_interests[picked.chunk.rows[picked.local]]
    return np.where(close, 0, -1)


def _semantic_word(profiles: ProfileArrays, code: int) -> str:
    return "close to your interests"


def _one(profiles: ProfileArrays) -> int:
    return 1


# --- Liked and disliked papers ------------------------------------------------------


def _liked(chunk: Chunk) -> np.ndarray:
    """Mean cosine to the liked papers: the dot product with their (unnormalised) centroid.

    On the quality benchmark the centroid beat the nearest liked paper (max) clearly;
    see docs/benchmarks.md.
    """
    sim, docs, pad = chunk.day.corpus.sim, chunk.liked, chunk.profiles.pad_row
    total = sim[docs[:, 0]].copy()
    for j in range(1, docs.shape[1]):
        total += sim[docs[:, j]]
    count = np.maximum((docs != pad).sum(axis=1, keepdims=True), 1).astype(np.float32)
    return _scaled(total / count)


def _liked_code(picked: Picked, before: Mapping[str, np.ndarray]) -> np.ndarray:
    # Name the liked paper closest to the pick, where the likeness is worth a mention.
    liked = np.full(len(picked.local), -1, np.int64)
    shown = np.flatnonzero(picked.value("liked") >= LIKED_REASON_MIN)
    docs = picked.chunk.liked[picked.local[shown]]
    best = picked.chunk.day.corpus.sim[docs, picked.paper[shown, None]].argmax(axis=1)
    liked[shown] = docs[np.arange(len(shown)), best]
    return liked


def _liked_word(profiles: ProfileArrays, code: int) -> str:
    title = profiles.day.corpus.docs[code].title
    return f"similar to '{shorten(title, 50)}', which you liked"


def _n_docs(profiles: ProfileArrays) -> int:
    return profiles.pad_row  # today's papers and the reference papers


def _disliked(chunk: Chunk) -> np.ndarray:
    """Best cosine to any disliked paper: one close dislike is enough to push a paper down."""
    sim, docs = chunk.day.corpus.sim, chunk.disliked
    best = sim[docs[:, 0]].copy()
    for j in range(1, docs.shape[1]):
        np.maximum(best, sim[docs[:, j]], out=best)
    return _scaled(best)


def _scaled(cosine: np.ndarray) -> np.ndarray:
    cosine -= np.float32(SIM_FLOOR)
    cosine *= np.float32(1.0 / (SIM_FULL - SIM_FLOOR))
    return np.clip(cosine, 0.0, 1.0, out=cosine)


# --- Taste: each reader's learned model (taste.py) ---------------------------------


def _bind_taste(profiles: ProfileArrays, weight: float) -> Score | None:
    # Only when someone in the call has a like (the others get 0 from it anyway).
    if not weight or not (profiles.liked != profiles.pad_row).any():
        return None
    model = _prepared(profiles, "taste", _taste_model)
    return None if model is None else model.scores


def _paper_table(day: Day) -> ranking_semantic.PaperTable | None:
    return ranking_semantic.paper_table(day.corpus.docs, day.corpus.n)


def _taste_model(day: Day) -> ranking_taste.TasteModel:
    corpus = day.corpus
    return ranking_taste.TasteModel(corpus.terms, corpus.sim, corpus.n)


T = TypeVar("T")


def _prepared(profiles: ProfileArrays, name: str, make: Callable[[Day], T | None]) -> T | None:
    """The day's part of a signal, made once per day (and embedding model) for every call
    of a Ranker (the papers' vectors and dot products, the taste model's term table), or
    None when it cannot be made (no embedding model)."""
    key = (name, ranking_semantic.model_name())
    day = profiles.day
    if key not in day.prepared:
        made = make(day)
        if made is None:
            return None  # not kept: an encoder installed later is used
        day.prepared[key] = made
    return day.prepared[key]  # type: ignore[return-value]


def _taste_code(picked: Picked, before: Mapping[str, np.ndarray]) -> np.ndarray:
    # Said where no liked paper is named already (a title says more).
    shown = (picked.value("taste") >= TASTE_REASON_MIN) & (before.get("liked", -1) < 0)
    return np.where(shown, 0, -1)


def _taste_word(profiles: ProfileArrays, code: int) -> str:
    return "in line with the papers you liked"


# --- Popularity ---------------------------------------------------------------------


def _popularity(chunk: Chunk) -> np.ndarray:
    # One value per paper, the same for every reader (broadcast in the blend).
    return chunk.day.corpus.popularity


def _trending_code(picked: Picked, before: Mapping[str, np.ndarray]) -> np.ndarray:
    # Said when the paper is trending, and also when nothing else explains the pick.
    alone = np.all([code < 0 for code in before.values()], axis=0)
    shown = (picked.value("popularity") >= TRENDING_REASON_MIN) | alone
    return np.where(shown, picked.paper, -1)


def _n_papers(profiles: ProfileArrays) -> int:
    return profiles.day.corpus.n


def _trending_word(profiles: ProfileArrays, code: int) -> str:
    votes = int(profiles.day.corpus.upvotes[code])
    if votes <= 0:
        return "new: no upvotes yet"
    return f"trending: {votes} upvote{'s' if votes != 1 else ''}"


# --- Helpers ------------------------------------------------------------------------


def _hits(profile_matrix: sparse.csr_matrix, paper_matrix: np.ndarray) -> np.ndarray:
    if paper_matrix.shape[0] == 0:
        return np.zeros((profile_matrix.shape[0], paper_matrix.shape[1]), np.float32)
    return (np.asarray(profile_matrix @ paper_matrix) > 0).astype(np.float32)


def _first_hit(hits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per row, the id of the first column that is a hit, or -1."""
    first = hits.argmax(axis=1)
    line = np.arange(len(hits))
    return np.where(hits[line, first], ids[line, first], -1)


# --- The table ----------------------------------------------------------------------

# In the order of the blend's sum: float32 addition is not associative, so this order
# fixes the last bit of every score (reordering it changes scores in the 7th digit and,
# rarely, a rounded score or a tie). A new signal goes at the end.
SIGNALS: tuple[Signal, ...] = (
    Signal(
        "keywords",
        1.0,
        always(_keywords),
        reason=ReasonPart(_phrase_code, _phrase_word, _phrase_size),
    ),
    Signal(
        "popularity",
        0.25,
        always(_popularity),
        reason=ReasonPart(_trending_code, _trending_word, _n_papers),
        with_likes=0.4,
    ),
    Signal(
        "liked",
        0.8,
        always(_liked),
        reason=ReasonPart(_liked_code, _liked_word, _n_docs),
        with_likes=0.5,
    ),
    Signal("categories", 0.3, always(_CATEGORIES.score), reason=_CATEGORIES.reason()),
    Signal("authors", 1.0, always(_AUTHORS.score), reason=_AUTHORS.reason(), forces=True),
    Signal(
        "semantic",
        0.25,
        _bind_semantic,
        reason=ReasonPart(_semantic_code, _semantic_word, _one),
        with_likes=0.4,
    ),
    Signal("disliked", 0.6, always(_disliked), sign=-1.0),
    Signal("taste", 0.5, _bind_taste, reason=ReasonPart(_taste_code, _taste_word, _one)),
)
# A pick's reason says its parts in this order (at most MAX_REASON_PARTS of them); every
# signal with a reason part is named here once (a test checks).
REASON_ORDER: tuple[str, ...] = (
    "authors",
    "keywords",
    "semantic",
    "liked",
    "taste",
    "categories",
    "popularity",
)

DEFAULT_WEIGHTS: dict[str, float] = {
    **{signal.name: signal.weight for signal in SIGNALS},
    "diversity": DIVERSITY,
    # 1: readers with a like get each signal's with_likes factor; 0: everyone the same.
    "with_likes": 1.0,
}


def resolve_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Explicit weights, else settings.DIGEST_RANKING_WEIGHTS (the environment's
    overrides), over the defaults of the table."""
    if weights is None:
        configured = setting("DIGEST_RANKING_WEIGHTS", {})
        weights = configured if isinstance(configured, Mapping) else {}
    return {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in weights.items()}}
