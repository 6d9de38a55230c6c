"""The profiles of one rank call as arrays (ProfileArrays), cut into chunks of readers
that are scored together (Chunk)."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from digest.ranking.corpus import Day, PhraseIndex
from digest.ranking.ragged import Ragged, padded
from digest.ranking.text import phrase_key
from digest.ranking.types import Profile

CHUNK_ROWS = 4096


class ProfileArrays:
    """The profiles as sparse matrices and padded index arrays, next to the day they are
    ranked against.

    Names (phrases, arXiv ids, categories, authors) are normalised once per distinct
    name, then looked up for all profiles at once.
    """

    def __init__(self, profiles: Sequence[Profile], day: Day) -> None:
        def field(name: str) -> list[Any]:
            return list(map(operator.attrgetter(name), profiles))

        self.day = day
        corpus = day.corpus
        self.pad_row = corpus.pad_row
        self.k = np.maximum(np.fromiter(field("k"), np.int64, count=len(profiles)), 0)
        self._phrases(field("interests"), day.phrases)
        liked = Ragged(field("liked"), corpus.row, corpus.pad_row)
        disliked = Ragged(field("disliked"), corpus.row, corpus.pad_row)
        self.liked = liked.padded(corpus.pad_row)
        self.liked_csr = liked.csr
        self.disliked = disliked.padded(corpus.pad_row)
        categories = day.categories.asked(field("categories"))
        self.category_matrix = categories.csr
        self.categories = categories.padded(len(day.categories.text))
        self.n_categories = len(day.categories.text)
        authors = day.authors.asked(field("authors"))
        self.author_matrix = authors.csr
        self.authors = authors.padded(len(day.authors.text))
        self.n_authors = len(day.authors.text)
        # Never pick a paper already sent, or already judged (liked or disliked).
        sent = Ragged(field("exclude"), day.today, corpus.n).csr
        judged = liked.csr[:, : corpus.n] + disliked.csr[:, : corpus.n]
        self.excluded = ((sent + judged) > 0).tocsr()

    def _phrases(self, interests: list[tuple[str, ...]], index: PhraseIndex) -> None:
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
        by_spelling = Ragged(interests, {p: i for i, p in enumerate(raw)}, len(raw)).csr
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
        self.phrases = padded(indptr, cols, len(found))
        self.spellings = padded(indptr, spelling, len(raw))
        self.n_phrases = len(found)
        self.interests = interests
        self.has_interests = np.fromiter(map(bool, interests), bool, count=len(interests))
        self.key_of = key_of
        self._by_spelling = by_spelling
        self._spelling_text = raw

    def phrase_keys(self) -> list[tuple[str, ...]]:
        """Each profile's normalised phrases (for the semantic signal)."""
        return [tuple(dict.fromkeys(self.key_of[x] for x in ints)) for ints in self.interests]

    def phrase_key_matrix(self) -> tuple[list[str], sparse.csr_matrix]:
        """The call's distinct normalised phrases (sorted, found on a paper or not) and
        each profile's as a (profiles x phrases) 0/1 matrix: phrase_keys() as arrays,
        with no Python loop per profile."""
        keys = sorted(set(self.key_of.values()) - {""})
        col = {key: j for j, key in enumerate(keys)}
        of_spelling = np.array([col.get(self.key_of[p], -1) for p in self._spelling_text], np.int64)
        by_spelling = self._by_spelling
        rows = np.repeat(np.arange(by_spelling.shape[0]), np.diff(by_spelling.indptr))
        cols = of_spelling[by_spelling.indices]
        keep = cols >= 0
        data = np.ones(int(keep.sum()), np.float32)
        shape = (by_spelling.shape[0], len(keys))
        matrix = sparse.csr_matrix((data, (rows[keep], cols[keep])), shape=shape)
        matrix.sum_duplicates()
        matrix.data[:] = 1.0  # two spellings of one phrase count once
        return keys, matrix

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


class Chunk:
    """A block of profiles scored together, with its padded arrays cut to its own width."""

    def __init__(self, profiles: ProfileArrays, rows: np.ndarray) -> None:
        self.profiles = profiles
        self.day = profiles.day
        self.rows = rows
        self.k = profiles.k[rows]
        self.liked = _trim(profiles.liked[rows], profiles.pad_row)
        self.disliked = _trim(profiles.disliked[rows], profiles.pad_row)
        self.phrases = _trim(profiles.phrases[rows], profiles.n_phrases)
        self.spellings = profiles.spellings[rows][:, : self.phrases.shape[1]]
        self.categories = _trim(profiles.categories[rows], profiles.n_categories)
        self.authors = _trim(profiles.authors[rows], profiles.n_authors)
        self.excluded = profiles.excluded[rows].toarray()


def _trim(padded: np.ndarray, pad: int) -> np.ndarray:
    width = int((padded != pad).sum(axis=1).max(initial=0))
    return padded[:, : max(width, 1)]
