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
# Standard deviations above the reader's mean where the signal starts and is full.
Z_FLOOR = 0.0
Z_FULL = 3.0


class TasteModel:
    """The day's part of every reader's model: two (documents + pad) x today's papers
    tables, the whitened embeddings' scores and the tf-idf cosines."""

    def __init__(self, vectors: np.ndarray, lexical: np.ndarray, n_candidates: int) -> None:
        """``vectors``: one embedding per corpus document (today's papers first);
        ``lexical``: the corpus' tf-idf cosines with its pad row (Corpus.sim)."""
        self.pad_row = len(vectors)
        whitened = _whitened(vectors.astype(np.float64))
        scores = (whitened @ vectors[:n_candidates].T.astype(np.float64)).astype(np.float32)
        # One all-zero row that padded "no paper" slots point at.
        self.dense = np.vstack([scores, np.zeros((1, n_candidates), np.float32)])
        self.lexical = lexical

    def scores(self, chunk: Chunk) -> np.ndarray:
        liked, disliked = _consistent(chunk.liked, chunk.disliked, self.pad_row)
        n_liked = (liked != self.pad_row).sum(axis=1)
        raw = self._side(liked, n_liked)
        n_disliked = (disliked != self.pad_row).sum(axis=1)
        if n_disliked.any():
            against = self._side(disliked, n_disliked)
            against[n_disliked == 0] = 0.0
            raw -= np.float32(DISLIKE_SHARE) * against
        out = _standard_scaled(raw)
        out[n_liked == 0] = 0.0  # no like, no model: rank exactly as without it
        return out

    def _side(self, docs: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Both halves of the model for one side (liked or disliked), each standardised
        per reader so that neither scale decides, then added with the dense share."""
        side = _standardised(_mean(self.lexical, docs, count))
        side += np.float32(DENSE_SHARE) * _standardised(_mean(self.dense, docs, count))
        return side


def model_for(
    docs: Sequence[Candidate], n_candidates: int, lexical: np.ndarray
) -> TasteModel | None:
    """The day's taste model, or None when the papers cannot be embedded (no encoder)."""
    vectors = ranking_semantic.paper_vectors(docs)
    if vectors is None or vectors.shape[0] == 0:
        return None
    return TasteModel(vectors, lexical, n_candidates)


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
