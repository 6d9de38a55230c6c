"""The day's papers, prepared once per Ranker: word vectors and similarities, popularity,
the names on the papers (categories, authors) and the tf-idf of interest phrases."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from digest.ranking.ragged import Ragged
from digest.ranking.text import author_key, count_phrases, phrase_starts, segments
from digest.ranking.types import Candidate

FIELD_WEIGHTS = {"title": 2.0, "ai_keywords": 2.0, "abstract": 1.0}

# A text's segments with the weight of its field (see text.count_phrases).
Fields = list[tuple[list[list[str]], float]]


class Corpus:
    """Today's candidates (rows 0..n-1) followed by reference papers, with their vectors."""

    def __init__(self, candidates: Sequence[Candidate], reference: Sequence[Candidate]) -> None:
        # A paper listed twice counts once; today's copy wins over a reference copy.
        unique = list({c.arxiv_id: c for c in reversed(candidates)}.values())[::-1]
        extra = {r.arxiv_id: r for r in reference if r.arxiv_id not in {c.arxiv_id for c in unique}}
        self.docs: list[Candidate] = [*unique, *extra.values()]
        self.n = len(unique)
        self.row = {d.arxiv_id: i for i, d in enumerate(self.docs)}
        self.fields = [_fields(d) for d in self.docs]
        every_term, shared_terms = _word_vectors(self.fields)
        candidates_only = every_term[: self.n]
        self.dup_sim = (candidates_only @ candidates_only.T).toarray().astype(np.float32)
        # Similarity of every document to every candidate, plus one all-zero row that
        # padded "no paper" slots point at.
        sim = (shared_terms @ shared_terms[: self.n].T).toarray().astype(np.float32)
        self.pad_row = len(self.docs)
        self.sim = np.vstack([sim, np.zeros((1, self.n), np.float32)])
        # The documents' tf-idf over the shared terms (what ``sim`` is made of), for the
        # taste model's term weights.
        self.terms = shared_terms.astype(np.float32).tocsr()
        self.popularity = _popularity(unique)
        self.upvotes = np.array([c.upvotes for c in unique], np.int64)


class Day:
    """Everything about the day's papers that does not depend on the profiles."""

    def __init__(self, candidates: Sequence[Candidate], reference: Sequence[Candidate]) -> None:
        self.corpus = corpus = Corpus(candidates, reference)
        papers = corpus.docs[: corpus.n]
        # Corpus row -> the paper's position in the candidates as given (its first copy).
        first: dict[str, int] = {}
        for i, c in enumerate(candidates):
            first.setdefault(c.arxiv_id, i)
        self.position = np.array([first[d.arxiv_id] for d in papers], np.int32)
        self.today = {a: j for a, j in corpus.row.items() if j < corpus.n}
        self.categories = PaperNames([c.categories for c in papers], str.casefold)
        self.authors = PaperNames([c.authors for c in papers], author_key)
        self.phrases = PhraseIndex(corpus)
        # What a signal prepares once per day for all calls (e.g. the paper embeddings'
        # tables, the taste model's term table), by the signal's own key; filled on
        # first use.
        self.prepared: dict[tuple[str, str], object] = {}


class PaperNames:
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
        self.matrix = Ragged(papers, on_papers, len(self.text)).csr.T.toarray()
        self.has = _with_pad_column(self.matrix.T > 0)

    def asked(self, wanted: Sequence[Sequence[str]]) -> Ragged:
        """The profiles' names as ids; names on no paper today are dropped."""
        asked = set(itertools.chain.from_iterable(wanted))
        norm, col = self.norm, self.col
        table = {name: j for name in asked if (j := col.get(norm(name))) is not None}
        return Ragged(wanted, table, len(self.text))


class PhraseIndex:
    """Sublinear tf-idf of interest phrases in the papers, one column per normalised phrase,
    counted once per day for each phrase the first time a profile asks for it."""

    def __init__(self, corpus: Corpus) -> None:
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


def _fields(doc: Candidate) -> Fields:
    fields = [
        (segments(doc.title), FIELD_WEIGHTS["title"]),
        (segments(doc.abstract), FIELD_WEIGHTS["abstract"]),
    ]
    # Each keyword is its own segment: a phrase must not run from one keyword into the next.
    fields += [(segments(kw), FIELD_WEIGHTS["ai_keywords"]) for kw in doc.ai_keywords]
    return fields


def _word_vectors(fields: list[Fields]) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
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
    scaled: np.ndarray = (score / top if top > 0 else np.zeros_like(score)).astype(np.float32)
    return scaled


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


def _with_pad_column(matrix: np.ndarray) -> np.ndarray:
    return np.hstack([matrix, np.zeros((matrix.shape[0], 1), bool)])
