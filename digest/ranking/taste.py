"""The taste model: each reader's own model of what they like, learned from their likes
(positives) and dislikes (negatives) over the papers' tf-idf terms.

A reader's model is one weight per term: the mean tf-idf of the term over the papers
they liked, cubed, for the terms that at least SHARED of those papers have (all of them
when they liked fewer), leaving out terms lighter than MIN_WEIGHT of their heaviest. A
paper's score is its tf-idf against those weights. The cube and the sharing make what
the liked papers have in common count far more than a term of one of them: the plain
centroid of the liked papers (the ``liked`` signal) cannot tell a paper on the topic
they share from one that repeats a single paper's side subject. Each disliked paper
pulls the model away: the tf-idf centroid of the disliked papers is subtracted
(DISLIKE_SHARE), cheaper than the term weights and as good for the one or two dislikes
readers have. The score is standardised per reader over today's papers and mapped to
[0, 1] between Z_FLOOR and Z_FULL standard deviations above that reader's mean.

It is fitted for every reader of a chunk at once, with two products (which papers each
reader liked x the papers' terms; the weights x today's papers' terms) and array
arithmetic in between: no Python loop per reader. The fit itself (the term weights) costs
2.4-3.2 microseconds per reader (10-13 ms per chunk of 4,096 readers, one thread); reading
a stored model back costs as much (2.5-2.8 microseconds per reader from Redis, before
mapping its terms onto the day's), so every reader is fitted afresh each day from their
current feedback instead of keeping models across days (docs/benchmarks.md). Readers with no like get 0 (and the signal is not computed
when no reader of the call has one), so they rank exactly as without it.

Tried and dropped (docs/benchmarks.md): an embedding half, Fisher's linear discriminant
over the paper embeddings with the day's papers as the background class, added to the
term model at 0.3. On the dev seeds it did not help (liked papers only 1.56x the SVM
without it against 1.52x with it; interests + likes 1.13x either way) and it cost a
gather and a standardisation per reader. The model needs no embedding model at all.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from digest.ranking.profiles import Chunk

log = logging.getLogger(__name__)

# How much a disliked paper pulls the model away, against a liked one pulling it close.
DISLIKE_SHARE = 0.5
# The term weights count the terms that at least SHARED of the reader's liked papers
# have. With the cube (the power of the mean tf-idf), tuned on the dev seeds
# (docs/benchmarks.md: powers 1-4, SHARED 1-3).
SHARED = 2
# Terms on fewer than this share of the day's documents are left out of the weights,
# and so are terms weighing less than MIN_WEIGHT of a reader's heaviest (both make the
# model several times faster and did not cost on the dev seeds).
MIN_DF = 0.05
MIN_WEIGHT = 0.1
# Standard deviations above the reader's mean where the signal starts and is full.
Z_FLOOR = 0.0
Z_FULL = 3.0


class TasteModel:
    """The day's part of every reader's model: the documents' tf-idf over the terms that
    can score one of today's papers, and the documents' cosines with today's papers."""

    def __init__(self, terms: sparse.csr_matrix, lexical: np.ndarray, n_candidates: int) -> None:
        """``terms``: the corpus' tf-idf over its shared terms, one row per document
        (today's papers first); ``lexical``: their cosines with today's papers, with a
        pad row that padded "no paper" slots point at (Corpus.sim)."""
        self.lexical = lexical
        self.pad_row = terms.shape[0]
        # Only the terms of today's papers can score one, and those of MIN_DF of the
        # papers or more weigh enough: the others are dropped (a faster model, as good).
        terms = terms.astype(np.float32).tocsc()
        on_today = np.diff(terms[:n_candidates].tocsc().indptr) > 0
        common = np.diff(terms.indptr) >= MIN_DF * terms.shape[0]
        terms = terms[:, np.flatnonzero(on_today & common)].tocsr()
        self.today = terms[:n_candidates].T.toarray()
        # Each document's tf-idf beside whether it has the term (1.0 or 0.0), as one dense
        # table: a few hundred terms, of which a reader's liked papers cover many, so
        # dense arithmetic beats sparse here (docs/benchmarks.md, "taste term weights").
        tfidf = terms.toarray()
        self.n_terms = tfidf.shape[1]
        self.term_table = np.hstack([tfidf, (tfidf > 0).astype(np.float32)])

    def scores(self, chunk: Chunk) -> np.ndarray:
        out = np.zeros((len(chunk.rows), self.today.shape[1]), np.float32)
        # No like, no model: those readers get 0 and rank exactly as without it.
        liking = np.flatnonzero((chunk.liked != self.pad_row).any(axis=1))
        if not liking.size:
            return out
        liked, disliked = _consistent(chunk.liked[liking], chunk.disliked[liking], self.pad_row)
        n_liked = (liked != self.pad_row).sum(axis=1)
        raw = _standardised(self._consensus(liked, n_liked))
        n_disliked = (disliked != self.pad_row).sum(axis=1)
        some = np.flatnonzero(n_disliked)
        if some.size:
            against = _standardised(_mean(self.lexical, disliked[some], n_disliked[some]))
            raw[some] -= np.float32(DISLIKE_SHARE) * against
        scaled = _standard_scaled(raw)
        scaled[n_liked == 0] = 0.0  # every like contradicted by a dislike
        out[liking] = scaled
        return out

    def _consensus(self, docs: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Each paper's tf-idf against the reader's term weights: the mean tf-idf of each
        term over their papers to the power 3, for the terms in at least SHARED of them
        (all of them when they have fewer). Up to a positive factor per reader (1/count
        cubed), which the standardisation after it removes: the sums are cubed instead."""
        if self.n_terms == 0:  # a day too small for a term on MIN_DF of its papers
            return np.zeros((len(docs), self.today.shape[1]), np.float32)
        keep = docs != self.pad_row
        indptr = np.zeros(len(docs) + 1, np.int64)
        np.cumsum(keep.sum(axis=1), out=indptr[1:])
        ones = np.ones(int(indptr[-1]), np.float32)
        which = sparse.csr_matrix((ones, docs[keep], indptr), shape=(len(docs), self.pad_row))
        # One product gives both halves: the sum of each term's tf-idf over the reader's
        # papers, and how many of their papers have it.
        both = which @ self.term_table
        total, having = both[:, : self.n_terms], both[:, self.n_terms :]
        weight = total * total
        weight *= total
        weight *= having >= (np.minimum(count, SHARED) - 0.5).astype(np.float32)[:, None]
        # Terms far lighter than the reader's heaviest add little: dropped.
        lightest = weight.max(axis=1, keepdims=True)
        lightest *= np.float32(MIN_WEIGHT)
        weight *= weight >= lightest
        return np.asarray(weight @ self.today, np.float32)


def _mean(table: np.ndarray, docs: np.ndarray, count: np.ndarray) -> np.ndarray:
    total: np.ndarray = table[docs[:, 0]].copy()
    for j in range(1, docs.shape[1]):
        total += table[docs[:, j]]
    total /= np.maximum(count, 1).astype(np.float32)[:, None]
    return total


def _consistent(liked: np.ndarray, disliked: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop a paper that a reader both liked and disliked from both sides: contradictory
    feedback says nothing about their taste (the paper is still never picked)."""
    rows = np.flatnonzero((disliked != pad).any(axis=1))  # only readers with a dislike
    mine, theirs = liked[rows], disliked[rows]
    both = (mine[:, :, None] == theirs[:, None, :]) & (mine[:, :, None] != pad)
    if not both.any():
        return liked, disliked
    readers = int(both.any(axis=(1, 2)).sum())
    log.info("taste model: %d reader(s) liked and disliked the same paper; ignored", readers)
    liked, disliked = liked.copy(), disliked.copy()
    liked[rows] = np.where(both.any(axis=2), pad, mine)
    disliked[rows] = np.where(both.any(axis=1), pad, theirs)
    return liked, disliked


def _standardised(raw: np.ndarray) -> np.ndarray:
    raw -= raw.mean(axis=1, keepdims=True)
    std = raw.std(axis=1, keepdims=True)
    raw /= np.where(std > 0, std, 1.0)
    return raw


def _standard_scaled(raw: np.ndarray) -> np.ndarray:
    _standardised(raw)
    raw -= np.float32(Z_FLOOR)
    raw *= np.float32(1.0 / (Z_FULL - Z_FLOOR))
    scaled: np.ndarray = np.clip(raw, 0.0, 1.0, out=raw)
    return scaled
