"""Sets of names per row (a profile's phrases, a paper's authors) as sparse or padded ids."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse


class Ragged:
    """One set of column ids per row, as a CSR matrix without duplicates."""

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
        """(rows x longest set) array of the ids, padded with ``pad``."""
        return padded(self.csr.indptr, self.csr.indices, pad)


def padded(indptr: np.ndarray, values: np.ndarray, pad: int) -> np.ndarray:
    """Row i's values[indptr[i]:indptr[i + 1]] as a (rows x longest row) array padded with pad."""
    lengths = np.diff(indptr)
    out = np.full((len(lengths), max(int(lengths.max(initial=0)), 1)), pad, np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    out[rows, np.arange(len(values)) - indptr[rows]] = values
    return out
