"""Choosing each reader's picks from the blended scores: greedy MMR over every row at once."""

from __future__ import annotations

import numpy as np

from digest.ranking.corpus import Corpus

# Two papers this similar are the same work twice (versions, companion papers).
NEAR_DUPLICATE = 0.8
# A forced paper (a followed author's) outranks everything else whatever the scores say.
FORCED = 1000.0


def select(
    corpus: Corpus,
    ks: np.ndarray,
    base: np.ndarray,
    forced: np.ndarray,
    excluded: np.ndarray,
    diversity: float,
) -> np.ndarray:
    """Greedy MMR for every row at once: (rows x k_max) candidate indices, -1 for none.

    Each step takes, per row, the paper with the best score after a penalty for its
    similarity to the papers already taken, and never one nearly identical to one of
    them. Only each row's best few papers are considered: the others could not make
    the email.
    """
    k_max = int(ks.max(initial=0))
    n_rows, n = base.shape
    picked = np.full((n_rows, k_max), -1, np.int64)
    if k_max == 0:
        return picked
    key = np.where(excluded, -np.inf, base + np.float32(FORCED) * forced)
    width = min(n, max(3 * k_max, k_max + 20))
    top = top_columns(key, width)
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


def top_columns(key: np.ndarray, width: int) -> np.ndarray:
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
