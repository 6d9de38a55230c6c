"""The taste model: each reader's own linear model of what they like, learned from their
likes (positives) and dislikes (negatives) over the paper embeddings (semantic.py).

The model is Fisher's linear discriminant with the day's papers as the background
class: a reader's weight vector is

    w = A (mean(liked) - mu) - DISLIKE_SHARE * A (mean(disliked) - mu),
    A = (Sigma + SHRINK * mean variance * I)^-1

where mu and Sigma are the mean and covariance of the embeddings of the day's papers
(today's candidates and the liked/disliked reference papers). Whitening by Sigma is
what the plain centroid of the liked papers lacks: directions every ML paper varies
along (and the direction of "an ML paper" itself) count less, the directions that set
the reader's papers apart count more. On the liked-only benchmark it adds to the tf-idf
centroid where the centroid of the embeddings alone does not (docs/benchmarks.md).

It is fitted for every reader at once without materialising w: the score of a paper
is linear in the liked papers, so with U = (E - mu) A the whitened papers (computed
once per day) and T = U P^T their scores against today's papers P, a reader's scores
are the mean of the rows T[liked] minus DISLIKE_SHARE times the mean of T[disliked]:
a gather and a sum, the cost of the ``liked`` signal. Refitting a reader whose
feedback changed costs nothing more than ranking them; readers with no like get 0
(and the signal is not computed at all when no reader of the call has a like), so
they rank exactly as without it.

That is the model's embedding half. Its other half is the tf-idf centroid of the same
papers (the rows of Corpus.sim, what the ``liked`` signal reads): each half is
standardised per reader over today's papers and they are added (DENSE_SHARE for the
embedding half), which did better on the benchmarks than either alone. The sum is
standardised again and mapped to [0, 1] between Z_FLOOR and Z_FULL standard deviations
above that reader's mean.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from digest.ranking import semantic as ranking_semantic

if TYPE_CHECKING:
    from digest.ranking.profiles import Chunk
    from digest.ranking.types import Candidate

log = logging.getLogger(__name__)

# Shrinkage of the covariance towards its mean variance: the day has a few hundred
# papers for 256 dimensions, so Sigma alone is singular. Tuned on the dev seeds.
SHRINK = 10.0
# The embedding half's share against the tf-idf half (1.0).
DENSE_SHARE = 0.3
# How much a disliked paper pulls the model away, against a liked one pulling it close.
DISLIKE_SHARE = 0.5
# The term weights: the cube of the mean tf-idf over the reader's papers, counted for
# the terms that at least SHARED of their papers have. Both make the terms the liked
# papers have in common count far more than a term of one of them (the plain centroid,
# power 1 and SHARED 1, is what the ``liked`` signal reads). Tuned on the dev seeds
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
    """The day's part of every reader's model: the whitened embeddings' scores against
    today's papers (a (documents + pad) x today table) and the documents' tf-idf."""

    def __init__(
        self,
        vectors: np.ndarray,
        terms: sparse.csr_matrix,
        lexical: np.ndarray,
        n_candidates: int,
    ) -> None:
        """``vectors``: one embedding per corpus document (today's papers first);
        ``terms``: the corpus' tf-idf over its shared terms, one row per document;
        ``lexical``: their cosines with today's papers, with a pad row (Corpus.sim)."""
        self.lexical = lexical
        self.pad_row = len(vectors)
        whitened = _whitened(vectors.astype(np.float64))
        scores = (whitened @ vectors[:n_candidates].T.astype(np.float64)).astype(np.float32)
        # One all-zero row that padded "no paper" slots point at.
        self.dense = np.vstack([scores, np.zeros((1, n_candidates), np.float32)])
        # Only the terms of today's papers can score one, and those of MIN_DF of the
        # papers or more weigh enough: the others are dropped (a faster model, as good).
        terms = terms.astype(np.float32).tocsc()
        on_today = np.diff(terms[:n_candidates].tocsc().indptr) > 0
        common = np.diff(terms.indptr) >= MIN_DF * terms.shape[0]
        terms = terms[:, np.flatnonzero(on_today & common)].tocsr()
        self.today = terms[:n_candidates].T.toarray()
        # Each term as tf-idf + 1j (see _consensus).
        self.terms = sparse.csr_matrix(
            (terms.data + np.complex64(1j), terms.indices, terms.indptr), shape=terms.shape
        )

    def scores(self, chunk: Chunk) -> np.ndarray:
        liked, disliked = _consistent(chunk.liked, chunk.disliked, self.pad_row)
        n_liked = (liked != self.pad_row).sum(axis=1)
        raw = _standardised(self._consensus(liked, n_liked))
        raw += np.float32(DENSE_SHARE) * _standardised(_mean(self.dense, liked, n_liked))
        n_disliked = (disliked != self.pad_row).sum(axis=1)
        some = np.flatnonzero(n_disliked)
        if some.size:
            # A dislike or two: the plain centroids (tf-idf and whitened embeddings) of
            # the disliked papers, cheaper than the term weights and as good for one.
            docs, count = disliked[some], n_disliked[some]
            against = _standardised(_mean(self.lexical, docs, count))
            against += np.float32(DENSE_SHARE) * _standardised(_mean(self.dense, docs, count))
            raw[some] -= np.float32(DISLIKE_SHARE) * against
        out = _standard_scaled(raw)
        out[n_liked == 0] = 0.0  # no like, no model: rank exactly as without it
        return out

    def _consensus(self, docs: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Each paper's tf-idf against the reader's term weights: the mean tf-idf of each
        term over their papers to the power 3, for the terms in at least SHARED of them
        (all of them when they have fewer). Two sparse products for the chunk."""
        rows = np.repeat(np.arange(len(docs)), docs.shape[1])
        cols = docs.ravel()
        keep = cols != self.pad_row
        ones = np.ones(int(keep.sum()), np.complex64)
        shape = (len(docs), self.pad_row)
        which = sparse.csr_matrix((ones, (rows[keep], cols[keep])), shape=shape)
        # One product gives both: the real part sums the tf-idf, the imaginary part
        # counts the papers that have the term.
        both = which @ self.terms
        owner = np.repeat(np.arange(len(docs)), np.diff(both.indptr))
        kept = both.data.imag >= np.minimum(count, SHARED)[owner] - 0.5
        owner, indices = owner[kept], both.indices[kept]
        mean = both.data.real[kept] / np.maximum(count, 1).astype(np.float32)[owner]
        weight = mean * mean * mean
        # Terms far lighter than the reader's heaviest add little: dropped (faster).
        kept = np.ones(weight.size, bool)
        if weight.size:
            starts = np.minimum(np.searchsorted(owner, np.arange(len(docs))), weight.size - 1)
            heaviest = np.maximum.reduceat(weight, starts)  # right for every row with terms
            kept = weight >= np.float32(MIN_WEIGHT) * heaviest[owner]
        owner = owner[kept]
        indptr = np.searchsorted(owner, np.arange(len(docs) + 1))
        weights = sparse.csr_matrix((weight[kept], indices[kept], indptr), shape=both.shape)
        return np.asarray(weights @ self.today, np.float32)


def model_for(
    docs: Sequence[Candidate], n_candidates: int, terms: sparse.csr_matrix, lexical: np.ndarray
) -> TasteModel | None:
    """The day's taste model, or None when the papers cannot be embedded (no encoder)."""
    vectors = ranking_semantic.paper_vectors(docs)
    if vectors is None or vectors.shape[0] == 0:
        return None
    return TasteModel(vectors, terms, lexical, n_candidates)


def _mean(table: np.ndarray, docs: np.ndarray, count: np.ndarray) -> np.ndarray:
    total: np.ndarray = table[docs[:, 0]].copy()
    for j in range(1, docs.shape[1]):
        total += table[docs[:, j]]
    total /= np.maximum(count, 1).astype(np.float32)[:, None]
    return total


def _whitened(vectors: np.ndarray) -> np.ndarray:
    """(E - mu) A: each paper in the space where the day's papers have unit covariance
    (shrunk towards the identity)."""
    centred = vectors - vectors.mean(axis=0)
    dim = vectors.shape[1]
    cov = centred.T @ centred / max(len(vectors), 1)
    shrink = SHRINK * max(float(np.trace(cov)) / dim, 1e-6)
    whitened: np.ndarray = np.linalg.solve(cov + shrink * np.eye(dim), centred.T).T
    return whitened


def _consistent(liked: np.ndarray, disliked: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop a paper that a reader both liked and disliked from both sides: contradictory
    feedback says nothing about their taste (the paper is still never picked)."""
    both = (liked[:, :, None] == disliked[:, None, :]) & (liked[:, :, None] != pad)
    if not both.any():
        return liked, disliked
    readers = int(both.any(axis=(1, 2)).sum())
    log.info("taste model: %d reader(s) liked and disliked the same paper; ignored", readers)
    liked = np.where(both.any(axis=2), pad, liked)
    disliked = np.where(both.any(axis=1), pad, disliked)
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
