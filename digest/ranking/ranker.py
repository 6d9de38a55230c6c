"""Personal ranking of the day's papers for many subscribers at once (pure, no ORM).

Every signal is a (subscribers x papers) array in [0, 1], computed for a chunk of
subscribers with one sparse or dense product; the blend, the diversity step (MMR) and
the top-k pick are array operations over the whole chunk. Python loops run once per
profile (to read it) and, in ``Ranker.rank`` only, once per pick (to make the Pick),
never per subscriber per paper; reasons are built once per distinct combination of
their parts. The day's papers are prepared once per ``Ranker``, for any number of calls.
"""

from __future__ import annotations

import gc
import itertools
import logging
import math
import operator
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from digest.ranking import semantic as ranking_semantic
from digest.ranking.text import (
    author_key,
    count_phrases,
    parse_interests,
    phrase_key,
    phrase_starts,
    segments,
)
from digest.ranking.text import shorten as _shorten

__all__ = [
    "Candidate",
    "Pick",
    "Profile",
    "RankedColumns",
    "Ranker",
    "parse_interests",
    "rank_columns",
    "rank_for_all",
    "resolve_weights",
]

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS: dict[str, float] = {
    "keywords": 1.0,
    "liked": 0.8,
    "disliked": 0.6,
    "categories": 0.3,
    "authors": 1.0,
    "popularity": 0.25,
    "semantic": 0.5,
    # MMR: how much similarity to an already picked paper costs, as a share of its score.
    "diversity": 0.5,
}
# Raw phrase tf-idf mass at which the keyword signal reaches 63% (1 - 1/e): about one
# distinctive phrase in the title, or two in the abstract.
KEYWORD_SATURATION = 4.0
FIELD_WEIGHTS = {"title": 2.0, "ai_keywords": 2.0, "abstract": 1.0}
# Cosine similarity (tf-idf) to liked/disliked papers, mapped linearly to [0, 1]. On the
# real HF papers the median cosine of two random papers is about 0.03 and of two papers
# on one topic 0.06-0.1 (abstracts share few exact words); near-duplicates are above 0.8.
SIM_FLOOR = 0.03
SIM_FULL = 0.25
# Two papers this similar are the same work twice (versions, companion papers).
NEAR_DUPLICATE = 0.8
LIKED_REASON_MIN = 0.25
SEMANTIC_REASON_MIN = 0.5
TRENDING_REASON_MIN = 0.6
MAX_REASON_PARTS = 3
# A followed author's paper outranks everything else whatever the other signals say.
FORCED = 1000.0
CHUNK_ROWS = 4096
# Chunks scored at once (threads: numpy and scipy release the GIL in the heavy loops).
THREADS = 2


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


class Ranker:
    """Ranks the day's candidates for any number of profiles, in as many calls as wanted.

    The per-day work (the corpus, its tf-idf and similarities, popularity, the papers'
    categories and authors, the phrase tf-idf of every interest phrase seen so far, and
    the wording of reasons) is done once and kept; each ``rank``/``rank_columns`` call
    only reads its profiles. Ranking a batch gives exactly what ``rank_for_all`` gives
    for that batch alone.
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
        self._day = _Day(self.candidates, reference) if self.candidates else None

    def rank(self, profiles: Sequence[Profile]) -> list[list[Pick]]:
        """Top ``profile.k`` candidates for each profile, best first, as Pick objects."""
        with _no_gc():
            return self.rank_columns(profiles).picks(self.candidates)

    def rank_columns(self, profiles: Sequence[Profile]) -> RankedColumns:
        """The same picks as ``rank``, as flat arrays (no per-pick Python objects)."""
        if self._day is None or not profiles:
            return RankedColumns.empty(len(profiles))
        with _no_gc():
            return _rank(self._day, profiles, self.weights)


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
        with _no_gc():
            reason = self.reason.tolist()
            ids = list(map([c.arxiv_id for c in candidates].__getitem__, self.paper.tolist()))
            scores = np.round(self.score.astype(np.float64), 4).tolist()
            texts = list(map(self.reason_texts.__getitem__, reason))
            parts = list(map(self.reason_parts.__getitem__, reason))
            flat = _new_picks(ids, scores, texts, parts)
            return [flat[a:b] for a, b in itertools.pairwise(self.offsets.tolist())]


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


@contextmanager
def _no_gc() -> Iterator[None]:
    # Millions of small acyclic objects (picks, reasons): without this the cyclic GC
    # rescans all of them again and again and the run gets slower than linear.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _rank(day: _Day, profiles: Sequence[Profile], w: Mapping[str, float]) -> RankedColumns:
    enc = _ProfileArrays(profiles, day)
    semantic = _semantic_scorer(day.corpus, enc, w)
    reasons = _ReasonCodes(day, enc)

    def score(rows: np.ndarray) -> tuple[np.ndarray, ...]:
        chunk = _Chunk(enc, rows)
        signals = _signals(day.corpus, enc, chunk, semantic)
        base = _blend(signals, w, day.corpus.popularity)
        picked = _select(day.corpus, chunk.k, base, signals, w["diversity"])
        return reasons.emit(chunk, picked, base, signals)

    chunks = enc.chunks()
    if THREADS > 1 and len(chunks) > 1:
        # The chunks' array work releases the GIL; map() keeps the chunks' order.
        with ThreadPoolExecutor(THREADS) as pool:
            parts = list(pool.map(score, chunks))
    else:
        parts = [score(rows) for rows in chunks]
    return reasons.columns(parts, len(profiles))


def resolve_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Explicit weights, else settings.DIGEST_RANKING_WEIGHTS, over the built-in defaults."""
    if weights is None:
        weights = _setting("DIGEST_RANKING_WEIGHTS", {})
    return {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in weights.items()}}


def _setting(name: str, default: object) -> object:
    from django.conf import settings

    return getattr(settings, name, default) if settings.configured else default


# --- Papers -------------------------------------------------------------------------


class _Corpus:
    """Today's candidates (rows 0..n-1) followed by reference papers, with their vectors."""

    def __init__(self, candidates: Sequence[Candidate], reference: Sequence[Candidate]) -> None:
        # A paper listed twice counts once; today's copy wins over a reference copy.
        unique = list({c.arxiv_id: c for c in reversed(candidates)}.values())[::-1]
        extra = {r.arxiv_id: r for r in reference if r.arxiv_id not in {c.arxiv_id for c in unique}}
        self.docs: list[Candidate] = [*unique, *extra.values()]
        self.n = len(unique)
        self.row = {d.arxiv_id: i for i, d in enumerate(self.docs)}
        self.ids = np.array([c.arxiv_id for c in unique], object)
        self.fields = [_fields(d) for d in self.docs]
        every_term, shared_terms = _word_vectors(self.fields)
        candidates_only = every_term[: self.n]
        self.dup_sim = (candidates_only @ candidates_only.T).toarray().astype(np.float32)
        # Similarity of every document to every candidate, plus one all-zero row that
        # padded "no paper" slots point at.
        sim = (shared_terms @ shared_terms[: self.n].T).toarray().astype(np.float32)
        self.pad_row = len(self.docs)
        self.sim = np.vstack([sim, np.zeros((1, self.n), np.float32)])
        self.popularity = _popularity(unique)
        self.upvotes = np.array([c.upvotes for c in unique], np.int64)


class _Day:
    """Everything about the day's papers that does not depend on the profiles."""

    def __init__(self, candidates: Sequence[Candidate], reference: Sequence[Candidate]) -> None:
        self.corpus = corpus = _Corpus(candidates, reference)
        papers = corpus.docs[: corpus.n]
        # Corpus row -> the paper's position in the candidates as given (its first copy).
        first: dict[str, int] = {}
        for i, c in enumerate(candidates):
            first.setdefault(c.arxiv_id, i)
        self.position = np.array([first[d.arxiv_id] for d in papers], np.int32)
        self.today = {a: j for a, j in corpus.row.items() if j < corpus.n}
        self.categories = _PaperNames([c.categories for c in papers], str.casefold)
        self.authors = _PaperNames([c.authors for c in papers], author_key)
        self.phrases = _PhraseIndex(corpus)
        # Reason parts worded once per day; index -1 (part absent) lands on a trailing None.
        self.author_part = _table([f"by {a}, whom you follow" for a in self.authors.text])
        self.category_part = _table([f"in {c}" for c in self.categories.text])
        self.liked_part = _table(
            [f"similar to '{_shorten(d.title, 50)}', which you liked" for d in corpus.docs]
        )
        self.trending_part = _table([_trending(int(v)) for v in corpus.upvotes])


class _PaperNames:
    """Names (categories, authors) on the papers, with ids; the first spelling is shown."""

    def __init__(self, papers: Sequence[Sequence[str]], norm: Callable[[str], str]) -> None:
        self.norm = norm
        self.col: dict[str, int] = {}
        self.text: list[str] = []
        for name in itertools.chain.from_iterable(papers):
            if norm(name) not in self.col:
                self.col[norm(name)] = len(self.text)
                self.text.append(name)
        on_papers = {name: self.col[norm(name)] for name in itertools.chain.from_iterable(papers)}
        # (names x papers), and (papers x names + 1) with an all-False pad column.
        self.matrix = _Ragged(papers, on_papers, len(self.text)).csr.T.toarray()
        self.has = _with_pad_column(self.matrix.T > 0)

    def asked(self, wanted: Sequence[Sequence[str]]) -> _Ragged:
        """The profiles' names as ids; names on no paper today are dropped."""
        asked = set(itertools.chain.from_iterable(wanted))
        norm, col = self.norm, self.col
        table = {name: j for name in asked if (j := col.get(norm(name))) is not None}
        return _Ragged(wanted, table, len(self.text))


class _PhraseIndex:
    """Sublinear tf-idf of interest phrases in the papers, one column per normalised phrase,
    counted once per day for each phrase the first time a profile asks for it."""

    def __init__(self, corpus: _Corpus) -> None:
        self.fields = corpus.fields[: corpus.n]
        self.n = corpus.n
        self.column: dict[str, int] = {}  # phrase key -> column, -1 when on no paper
        self.weights = np.zeros((self.n, 0), np.float32)

    def add(self, keys: Iterable[str]) -> None:
        new = {key for key in keys if key not in self.column}
        if not new:
            return
        starts = phrase_starts(new)
        counts = [count_phrases(f, new, starts) for f in self.fields]
        found = sorted({key for c in counts for key in c})
        offset = self.weights.shape[1]
        self.column.update(dict.fromkeys(new, -1))
        self.column.update({key: offset + j for j, key in enumerate(found)})
        added = _phrase_tfidf(counts, {key: j for j, key in enumerate(found)}, self.n)
        self.weights = np.hstack([self.weights, added[:, :-1]])


def _fields(doc: Candidate) -> list[tuple[list[list[str]], float]]:
    fields = [
        (segments(doc.title), FIELD_WEIGHTS["title"]),
        (segments(doc.abstract), FIELD_WEIGHTS["abstract"]),
    ]
    # Each keyword is its own segment: a phrase must not run from one keyword into the next.
    fields += [(segments(kw), FIELD_WEIGHTS["ai_keywords"]) for kw in doc.ai_keywords]
    return fields


def _word_vectors(
    fields: list[list[tuple[list[list[str]], float]]],
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """L2-normalised tf-idf of words and word bigrams (stop words dropped), one row a doc.

    Two versions: with every term (to tell near-duplicates apart, even on a day of two
    papers), and with only the terms of two papers or more (for the liked/disliked
    signals: a term of one paper cannot make two papers similar, it only dilutes).
    """
    docs = [[seg for segs, _ in f for seg in segs] for f in fields]
    vectorizer = TfidfVectorizer(
        analyzer=_unigrams_and_bigrams, sublinear_tf=True, norm=None, dtype=np.float32
    )
    try:
        weights = vectorizer.fit_transform(docs)
    except ValueError:  # not one word left (titles only, all stop words): nothing is similar
        weights = sparse.csr_matrix((len(docs), 1), dtype=np.float32)
    shared = np.flatnonzero(np.diff(weights.tocsc().indptr) >= 2)
    if shared.size == 0:
        return normalize(weights), sparse.csr_matrix((len(docs), 1), dtype=np.float32)
    return normalize(weights), normalize(weights[:, shared])


def _unigrams_and_bigrams(segs: list[list[str]]) -> list[str]:
    grams: list[str] = []
    for seg in segs:
        words = [t for t in seg if t not in ENGLISH_STOP_WORDS and len(t) > 1]
        grams += words
        grams += [f"{a} {b}" for a, b in itertools.pairwise(words)]
    return grams


def _popularity(candidates: Sequence[Candidate]) -> np.ndarray:
    """log upvotes scaled to [0, 1]; older papers had more days to collect theirs."""
    votes = np.array([max(c.upvotes, 0) for c in candidates], np.float32)
    age = np.array([max(c.age_days, 0.0) for c in candidates], np.float32)
    score = np.log1p(votes / np.sqrt(1.0 + age))
    top = float(score.max())
    return (score / top if top > 0 else np.zeros_like(score)).astype(np.float32)


# --- Profiles -----------------------------------------------------------------------


class _Ragged:
    """One set of column ids per profile, as a CSR matrix without duplicates."""

    def __init__(self, lists: Sequence[Sequence[str]], table: Mapping[str, int], width: int):
        """Look each name up in ``table`` (names it lacks are dropped), all in C loops."""
        lengths = np.fromiter(map(len, lists), np.int64, count=len(lists))
        flat = np.fromiter(
            map(table.get, itertools.chain.from_iterable(lists), itertools.repeat(-1)),
            np.int64,
            count=int(lengths.sum()),
        )
        rows = np.repeat(np.arange(len(lists)), lengths)
        keep = flat >= 0
        data = np.ones(int(keep.sum()), np.float32)
        csr = sparse.csr_matrix((data, (rows[keep], flat[keep])), shape=(len(lists), width))
        csr.sum_duplicates()
        csr.data[:] = 1.0
        self.csr = csr

    def padded(self, pad: int) -> np.ndarray:
        """(profiles x longest set) array of the ids, padded with ``pad``."""
        return _padded(self.csr.indptr, self.csr.indices, pad)


def _padded(indptr: np.ndarray, values: np.ndarray, pad: int) -> np.ndarray:
    """Row i's values[indptr[i]:indptr[i + 1]] as a (rows x longest row) array padded with pad."""
    lengths = np.diff(indptr)
    out = np.full((len(lengths), max(int(lengths.max(initial=0)), 1)), pad, np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    out[rows, np.arange(len(values)) - indptr[rows]] = values
    return out


class _ProfileArrays:
    """The profiles as sparse matrices and padded index arrays.

    Names (phrases, arXiv ids, categories, authors) are normalised once per distinct
    name, then looked up for all profiles at once.
    """

    def __init__(self, profiles: Sequence[Profile], day: _Day) -> None:
        def field(name: str) -> list:
            return list(map(operator.attrgetter(name), profiles))

        corpus = day.corpus
        self.pad_row = corpus.pad_row
        self.k = np.maximum(np.fromiter(field("k"), np.int64, count=len(profiles)), 0)
        self._phrases(field("interests"), day.phrases)
        liked = _Ragged(field("liked"), corpus.row, corpus.pad_row)
        disliked = _Ragged(field("disliked"), corpus.row, corpus.pad_row)
        self.liked = liked.padded(corpus.pad_row)
        self.disliked = disliked.padded(corpus.pad_row)
        categories = day.categories.asked(field("categories"))
        self.paper_categories = day.categories.matrix
        self.paper_has_category = day.categories.has
        self.category_matrix = categories.csr
        self.categories = categories.padded(len(day.categories.text))
        self.n_categories = len(day.categories.text)
        authors = day.authors.asked(field("authors"))
        self.paper_authors = day.authors.matrix
        self.paper_has_author = day.authors.has
        self.author_matrix = authors.csr
        self.authors = authors.padded(len(day.authors.text))
        self.n_authors = len(day.authors.text)
        # Never pick a paper already sent, or already judged (liked or disliked).
        sent = _Ragged(field("exclude"), day.today, corpus.n).csr
        judged = liked.csr[:, : corpus.n] + disliked.csr[:, : corpus.n]
        self.excluded = ((sent + judged) > 0).tocsr()

    def _phrases(self, interests: list[tuple[str, ...]], index: _PhraseIndex) -> None:
        """Each profile's phrases as columns of normalised phrases (``phrases``), and the
        profile's own spelling of each (``spellings``, indexing ``phrase_text``): a reason
        quotes the subscriber's words. Of two spellings of one phrase in a profile, the
        first in sorted order is kept."""
        raw = sorted(set(itertools.chain.from_iterable(interests)))
        key_of = {phrase: phrase_key(phrase) for phrase in raw}
        index.add(set(key_of.values()) - {""})
        # Columns in phrase order, so that ties between phrases break the same way
        # whatever phrases other profiles (or earlier calls) asked for.
        found = sorted({key for key in key_of.values() if key and index.column[key] >= 0})
        col = {key: j for j, key in enumerate(found)}
        self.phrase_weights = np.zeros((index.n, len(found) + 1), np.float32)
        self.phrase_weights[:, :-1] = index.weights[:, [index.column[key] for key in found]]
        self.phrase_text = [" ".join(phrase.split()) for phrase in raw]
        by_spelling = _Ragged(interests, {p: i for i, p in enumerate(raw)}, len(raw)).csr
        rows = np.repeat(np.arange(len(interests)), np.diff(by_spelling.indptr))
        spelling = by_spelling.indices.astype(np.int64)
        cols = np.array([col.get(key_of[p], -1) for p in raw], np.int64)[spelling]
        keep = cols >= 0
        rows, cols, spelling = rows[keep], cols[keep], spelling[keep]
        order = np.lexsort((spelling, cols, rows))
        rows, cols, spelling = rows[order], cols[order], spelling[order]
        first = np.ones(len(rows), bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, spelling = rows[first], cols[first], spelling[first]
        indptr = np.searchsorted(rows, np.arange(len(interests) + 1))
        data = np.ones(len(cols), np.float32)
        shape = (len(interests), len(found))
        self.phrase_matrix = sparse.csr_matrix((data, cols, indptr), shape=shape)
        self.phrases = _padded(indptr, cols, len(found))
        self.spellings = _padded(indptr, spelling, len(raw))
        self.n_phrases = len(found)
        self.interests = interests
        self.key_of = key_of

    def phrase_keys(self) -> list[tuple[str, ...]]:
        """Each profile's normalised phrases (for the semantic signal)."""
        return [tuple(dict.fromkeys(self.key_of[x] for x in ints)) for ints in self.interests]

    def chunks(self) -> list[np.ndarray]:
        # Profiles with the same k and about as many liked papers are scored together, so
        # the MMR runs no more steps, and the liked padding is no wider, than they need.
        # A chunk never mixes two k: the MMR looks at the best max(3k, k + 20) papers of
        # its k, so a profile's picks do not depend on who else is in the call.
        n_liked = (self.liked != self.pad_row).sum(axis=1)
        order = np.lexsort((n_liked, self.k))
        ends = np.flatnonzero(np.diff(self.k[order])) + 1
        return [
            group[i : i + CHUNK_ROWS]
            for group in np.split(order, ends)
            for i in range(0, len(group), CHUNK_ROWS)
        ]


class _Chunk:
    """A block of profiles scored together, with its padded arrays cut to its own width."""

    def __init__(self, enc: _ProfileArrays, rows: np.ndarray) -> None:
        self.rows = rows
        self.k = enc.k[rows]
        self.liked = _trim(enc.liked[rows], enc.pad_row)
        self.disliked = _trim(enc.disliked[rows], enc.pad_row)
        self.phrases = _trim(enc.phrases[rows], enc.n_phrases)
        self.spellings = enc.spellings[rows][:, : self.phrases.shape[1]]
        self.categories = _trim(enc.categories[rows], enc.n_categories)
        self.authors = _trim(enc.authors[rows], enc.n_authors)


def _trim(padded: np.ndarray, pad: int) -> np.ndarray:
    width = int((padded != pad).sum(axis=1).max(initial=0))
    return padded[:, : max(width, 1)]


def _with_pad_column(matrix: np.ndarray) -> np.ndarray:
    return np.hstack([matrix, np.zeros((matrix.shape[0], 1), bool)])


def _phrase_tfidf(
    counts: Sequence[Mapping[str, float]], col: dict[str, int], n_docs: int
) -> np.ndarray:
    """(papers x phrases+1) sublinear tf-idf of each phrase in each paper; last column 0."""
    tf = np.zeros((n_docs, len(col) + 1), np.float32)
    for i, c in enumerate(counts):
        for key, count in c.items():
            tf[i, col[key]] = 1.0 + math.log(count)
    df = (tf[:, :-1] > 0).sum(axis=0)
    tf[:, :-1] *= (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
    return tf


def _semantic_scorer(
    corpus: _Corpus, enc: _ProfileArrays, w: Mapping[str, float]
) -> ranking_semantic.SemanticScorer | None:
    if not w["semantic"] or not _setting("DIGEST_SEMANTIC", False):
        return None
    return ranking_semantic.scorer_for(corpus.docs, corpus.n, enc.phrase_keys(), enc.liked)


# --- Scoring and selection ----------------------------------------------------------


def _signals(
    corpus: _Corpus,
    enc: _ProfileArrays,
    chunk: _Chunk,
    semantic: ranking_semantic.SemanticScorer | None,
) -> dict[str, np.ndarray]:
    rows = chunk.rows
    raw = np.asarray(enc.phrase_matrix[rows] @ enc.phrase_weights[:, :-1].T, np.float32)
    signals = {
        "keywords": 1.0 - np.exp(-raw / np.float32(KEYWORD_SATURATION)),
        "liked": _liked_similarity(corpus.sim, chunk.liked, corpus.pad_row),
        "disliked": _disliked_similarity(corpus.sim, chunk.disliked),
        "categories": _hits(enc.category_matrix[rows], enc.paper_categories),
        "authors": _hits(enc.author_matrix[rows], enc.paper_authors),
        "excluded": enc.excluded[rows].toarray(),
    }
    if semantic is not None:
        signals["semantic"] = semantic.scores(rows).astype(np.float32)
    return signals


def _liked_similarity(sim: np.ndarray, docs: np.ndarray, pad: int) -> np.ndarray:
    """Mean cosine to the liked papers: the dot product with their (unnormalised) centroid.

    On the quality benchmark the centroid beat the nearest liked paper (max) clearly;
    see docs/benchmarks.md.
    """
    total = sim[docs[:, 0]].copy()
    for j in range(1, docs.shape[1]):
        total += sim[docs[:, j]]
    count = np.maximum((docs != pad).sum(axis=1, keepdims=True), 1).astype(np.float32)
    return _scaled(total / count)


def _disliked_similarity(sim: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Best cosine to any disliked paper: one close dislike is enough to push a paper down."""
    best = sim[docs[:, 0]].copy()
    for j in range(1, docs.shape[1]):
        np.maximum(best, sim[docs[:, j]], out=best)
    return _scaled(best)


def _scaled(cosine: np.ndarray) -> np.ndarray:
    cosine -= np.float32(SIM_FLOOR)
    cosine *= np.float32(1.0 / (SIM_FULL - SIM_FLOOR))
    return np.clip(cosine, 0.0, 1.0, out=cosine)


def _hits(profile_matrix: sparse.csr_matrix, paper_matrix: np.ndarray) -> np.ndarray:
    if paper_matrix.shape[0] == 0:
        return np.zeros((profile_matrix.shape[0], paper_matrix.shape[1]), np.float32)
    return (np.asarray(profile_matrix @ paper_matrix) > 0).astype(np.float32)


def _blend(
    signals: Mapping[str, np.ndarray], w: Mapping[str, float], popularity: np.ndarray
) -> np.ndarray:
    base = signals["keywords"] * np.float32(w["keywords"])
    base += popularity * np.float32(w["popularity"])
    for name in ("liked", "categories", "authors", "semantic"):
        if name in signals and w[name]:
            base += signals[name] * np.float32(w[name])
    if w["disliked"]:
        base -= signals["disliked"] * np.float32(w["disliked"])
    return base


def _select(
    corpus: _Corpus,
    ks: np.ndarray,
    base: np.ndarray,
    signals: Mapping[str, np.ndarray],
    diversity: float,
) -> np.ndarray:
    """Greedy MMR for every row at once: (rows x k_max) candidate indices, -1 for none.

    Each step
    takes, per row, the paper with the best score after a penalty for its similarity to
    the papers already taken, and never one nearly identical to one of them. Only each
    row's best few papers are considered: the others could not make the email.
    """
    k_max = int(ks.max(initial=0))
    n_rows, n = base.shape
    picked = np.full((n_rows, k_max), -1, np.int64)
    if k_max == 0:
        return picked
    forced = signals["authors"] > 0
    key = np.where(signals["excluded"], -np.inf, base + np.float32(FORCED) * forced)
    width = min(n, max(3 * k_max, k_max + 20))
    top = _top_columns(key, width)
    live = np.take_along_axis(key, top, axis=1)  # -inf: unavailable
    must = np.take_along_axis(forced, top, axis=1)
    penalty = np.float32(diversity) * np.abs(
        np.where(np.isfinite(live), np.take_along_axis(base, top, 1), 0)
    )
    near = np.zeros_like(penalty)
    line = np.arange(n_rows)
    for step in range(k_max):
        j = (live - near * penalty).argmax(axis=1)
        ok = np.isfinite(live[line, j])
        paper = top[line, j]
        picked[:, step] = np.where(ok, paper, -1)
        live[line, j] = -np.inf
        sims = np.take(corpus.dup_sim, paper[:, None] * n + top)
        sims[~ok] = 0.0
        np.maximum(near, sims, out=near)
        live[(sims >= NEAR_DUPLICATE) & ~must] = -np.inf
    return picked


def _top_columns(key: np.ndarray, width: int) -> np.ndarray:
    """(rows x width) column indices of each row's ``width`` largest values (any order).

    A value partition plus a threshold is several times faster than argpartition; of
    values tied at the threshold, the leftmost are kept.
    """
    n_rows, n = key.shape
    if width >= n:
        return np.broadcast_to(np.arange(n), (n_rows, n))
    threshold = -np.partition(-key, width - 1, axis=1)[:, width - 1 : width]
    rows, cols = np.nonzero(key >= threshold)
    start = np.searchsorted(rows, np.arange(n_rows))
    keep = np.arange(len(rows)) - start[rows] < width
    return cols[keep].reshape(n_rows, width)


# --- Picks and reasons --------------------------------------------------------------


class _ReasonCodes:
    """The picks of each chunk as arrays, and their reasons as codes worded once per call.

    Per pick, each reason part is a small int code (-1 where the part is absent), so the
    parts are chosen with array operations; each distinct combination of codes is turned
    into text once and shared by every pick that has it.
    """

    def __init__(self, day: _Day, enc: _ProfileArrays) -> None:
        self.day = day
        self.corpus = day.corpus
        self.enc = enc
        self.phrase_width = len(enc.phrase_text) + 1
        # Codes are >= -2: shifted by 2, a pick's five codes are packed into one int64
        # (mixed radix) when they fit, so that distinct reasons are one np.unique.
        radix = [
            enc.n_authors + 2,
            self.phrase_width**2 + 2,
            self.corpus.pad_row + 2,
            enc.n_categories + 2,
            self.corpus.n + 2,
        ]
        self.radix = radix if math.prod(radix) < 2**62 else None

    def emit(
        self,
        chunk: _Chunk,
        picked: np.ndarray,
        base: np.ndarray,
        signals: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        """(profile, paper row, score, reason codes) of the chunk's picks, by profile and
        best first within a profile; the codes packed into one int64 per pick if they fit."""
        local, slot = np.nonzero((picked >= 0) & (np.arange(picked.shape[1]) < chunk.k[:, None]))
        paper = picked[local, slot]
        # Forced picks carry FORCED in the selection key only: scores stay comparable.
        score = base[local, paper]
        order = np.lexsort((-score, local))  # by row, best first
        local, paper, score = local[order], paper[order], score[order]
        codes = self._texts(chunk, local, paper, signals)
        if self.radix is not None:
            packed = codes[:, 0] + 2
            for j, size in enumerate(self.radix[1:], start=1):
                packed *= size
                packed += codes[:, j] + 2
            codes = packed
        return chunk.rows[local], paper, score, codes

    def columns(self, parts: list[tuple[np.ndarray, ...]], n_profiles: int) -> RankedColumns:
        profile, paper, score, codes = (np.concatenate(c) for c in zip(*parts, strict=True))
        # Each profile is in one chunk and its picks are contiguous there: a stable sort
        # by profile puts the chunks' picks in the profiles' order.
        order = np.argsort(profile, kind="stable")
        offsets = np.zeros(n_profiles + 1, np.int64)
        np.cumsum(np.bincount(profile, minlength=n_profiles), out=offsets[1:])
        if self.radix is None:
            unique, inverse = _unique_rows(codes)
        else:
            packed, inverse = np.unique(codes, return_inverse=True)
            unique = np.empty((len(packed), len(self.radix)), np.int64)
            for j in reversed(range(len(self.radix))):
                packed, digit = np.divmod(packed, self.radix[j])
                unique[:, j] = digit - 2
        # Two code rows can read the same (two papers with as many upvotes): one text each.
        text_id: dict[str, int] = {}
        texts: list[str] = []
        reasons: list[tuple[str, ...]] = []
        remap = np.empty(len(unique), np.int32)
        for code, row in enumerate(map(tuple, unique.tolist())):
            text, row_parts = self._wording(row)
            remap[code] = j = text_id.setdefault(text, len(texts))
            if j == len(texts):
                texts.append(text)
                reasons.append(row_parts)
        return RankedColumns(
            offsets=offsets,
            paper=self.day.position[paper[order]],
            score=score[order].astype(np.float32, copy=False),
            reason=remap[inverse.reshape(-1)[order]],
            reason_texts=texts,
            reason_parts=reasons,
        )

    def _texts(
        self,
        chunk: _Chunk,
        local: np.ndarray,
        paper: np.ndarray,
        signals: Mapping[str, np.ndarray],
    ) -> np.ndarray:
        """Reason parts in a fixed order (author, phrases, liked paper, category, trending),
        at most MAX_REASON_PARTS of them; trending also stands in when nothing else applies."""
        codes = self._codes(chunk, local, paper, signals)
        present = codes != -1
        trending = self.corpus.popularity[paper] >= TRENDING_REASON_MIN
        present[:, -1] = trending | ~present[:, :-1].any(axis=1)
        used = present & (np.cumsum(present, axis=1) <= MAX_REASON_PARTS)
        return np.where(used, codes, -1)

    def _wording(self, row: tuple[int, ...]) -> tuple[str, tuple[str, ...]]:
        author, phrases, liked, category, paper = row
        day = self.day
        parts = (
            day.author_part[author] if author >= 0 else None,
            self._phrase_text(phrases) if phrases != -1 else None,
            day.liked_part[liked] if liked >= 0 else None,
            day.category_part[category] if category >= 0 else None,
            day.trending_part[paper] if paper >= 0 else None,
        )
        reasons = tuple(p for p in parts if p is not None)
        return "; ".join(reasons), reasons

    def _codes(
        self,
        chunk: _Chunk,
        local: np.ndarray,
        paper: np.ndarray,
        signals: Mapping[str, np.ndarray],
    ) -> np.ndarray:
        """Per pick, the code of each reason part (-1 where it does not apply): author id,
        phrase pair (see _phrase_codes), liked paper row, category id, the pick's row."""
        enc, corpus = self.enc, self.corpus
        column = paper[:, None]
        authors = chunk.authors[local]
        author = _first_hit(enc.paper_has_author[column, authors], authors)
        # Name the liked paper closest to the pick, where the likeness is worth a mention.
        liked = np.full(len(local), -1, np.int64)
        shown = np.flatnonzero(signals["liked"][local, paper] >= LIKED_REASON_MIN)
        docs = chunk.liked[local[shown]]
        best = corpus.sim[docs, paper[shown, None]].argmax(axis=1)
        liked[shown] = docs[np.arange(len(shown)), best]
        categories = chunk.categories[local]
        category = _first_hit(enc.paper_has_category[column, categories], categories)
        phrases = self._phrase_codes(chunk, local, paper, signals)
        # The trending part is shown only when trending or alone, see _texts.
        return np.stack([author, phrases, liked, category, paper], axis=1).astype(np.int64)

    def _phrase_codes(
        self,
        chunk: _Chunk,
        local: np.ndarray,
        paper: np.ndarray,
        signals: Mapping[str, np.ndarray],
    ) -> np.ndarray:
        """ "matches 'a', 'b'": the profile's two phrases that weigh most in the paper, coded
        as first * width + second + 1; -2 for "close to your interests", -1 for nothing."""
        phrase_ids = chunk.phrases[local]
        table = self.enc.phrase_weights
        # np.take on flat offsets: several times faster than 2-D fancy indexing.
        weights = np.take(table, paper[:, None] * table.shape[1] + phrase_ids)
        line = np.arange(len(local))
        first = weights.argmax(axis=1)
        has_first = weights[line, first] > 0
        weights[line, first] = 0.0
        second = weights.argmax(axis=1)
        has_second = weights[line, second] > 0
        spellings = chunk.spellings[local]
        one = spellings[line, first]
        two = np.where(has_second, spellings[line, second], -1)
        out = np.where(has_first, one * self.phrase_width + (two + 1), -1)
        semantic = signals.get("semantic")
        if semantic is not None:
            close = (semantic[local, paper] >= SEMANTIC_REASON_MIN) & ~has_first
            out[close] = -2
        return out

    def _phrase_text(self, code: int) -> str:
        if code == -2:
            return "close to your interests"
        one, two = divmod(code, self.phrase_width)
        quoted = ", ".join(f"'{self.enc.phrase_text[p]}'" for p in (one, two - 1) if p >= 0)
        return f"matches {quoted}"


def _unique_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an int array (codes >= -2), and for each row the index of its
    distinct row. The rows are packed into one int64 each when they fit (they do unless
    the vocabularies are huge), else sorted column by column."""
    if len(codes) == 0:
        return codes, np.zeros(0, np.int64)
    shifted = codes + 2
    radix = (shifted.max(axis=0) + 1).tolist()
    if math.prod(radix) < 2**62:
        scale = np.cumprod([1, *radix[:0:-1]])[::-1].astype(np.int64)
        _, first, inverse = np.unique(shifted @ scale, return_index=True, return_inverse=True)
        return codes[first], inverse.reshape(-1)
    order = np.lexsort(codes.T[::-1])
    ordered = codes[order]
    new = np.ones(len(codes), bool)
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(len(codes), np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


def _new_picks(
    ids: list[str], scores: list[float], reason: list[str], reasons: list[tuple[str, ...]]
) -> list[Pick]:
    """Pick objects without the frozen dataclass __init__ (one object.__setattr__ per
    field) and without a Python call per pick: each slot is filled for all picks by one
    C-level map. About twice as fast, and a run makes a million of them."""
    picks = list(map(_object_new, itertools.repeat(Pick, len(ids))))
    for setter, values in (
        (_set_id, ids),
        (_set_score, scores),
        (_set_reason, reason),
        (_set_reasons, reasons),
    ):
        deque(map(setter, picks, values), maxlen=0)
    return picks


_object_new = object.__new__
_set_id = Pick.arxiv_id.__set__  # type: ignore[attr-defined]
_set_score = Pick.score.__set__  # type: ignore[attr-defined]
_set_reason = Pick.reason.__set__  # type: ignore[attr-defined]
_set_reasons = Pick.reasons.__set__  # type: ignore[attr-defined]


def _table(texts: list[str]) -> np.ndarray:
    """Texts as an object array with a trailing None, so that index -1 means "absent"."""
    return np.array([*texts, None], dtype=object)


def _first_hit(hits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per row, the id of the first column that is a hit, or -1."""
    first = hits.argmax(axis=1)
    line = np.arange(len(hits))
    return np.where(hits[line, first], ids[line, first], -1)


def _trending(votes: int) -> str:
    if votes <= 0:
        return "new: no upvotes yet"
    return f"trending: {votes} upvote{'s' if votes != 1 else ''}"
