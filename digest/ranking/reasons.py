"""Reasons of the picks, generic over the signal table.

Each signal may have a reason part (ReasonPart): per pick, a small int code chosen with
array operations (-1 where the part is not said), and a wording of one code. A pick's
reason is its codes, one named column per part in table order; each distinct row of
codes is worded once per call and shared by every pick that has it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from digest.ranking.profiles import Chunk, ProfileArrays
from digest.ranking.types import RankedColumns

MAX_REASON_PARTS = 3


@dataclass(frozen=True, slots=True)
class Picked:
    """The picks of one chunk: row in the chunk, corpus row, and the chunk's signals."""

    chunk: Chunk
    local: np.ndarray
    paper: np.ndarray
    signals: Mapping[str, np.ndarray]

    def value(self, name: str) -> np.ndarray:
        """Each pick's value of a signal (a per-paper signal such as popularity is 1-D)."""
        values = self.signals[name]
        picked: np.ndarray = (
            values[self.paper] if values.ndim == 1 else values[self.local, self.paper]
        )
        return picked


# Code of each pick, given the codes of the parts before it in the table (by name).
Code = Callable[[Picked, Mapping[str, np.ndarray]], np.ndarray]
# The words of one code (>= 0), e.g. "in cs.CL".
Word = Callable[[ProfileArrays, int], str]
# An upper bound of the codes in a call (codes are < size).
Size = Callable[[ProfileArrays], int]


@dataclass(frozen=True, slots=True)
class ReasonPart:
    code: Code
    word: Word
    size: Size


class ReasonCodes:
    """The picks of each chunk as arrays, and their reasons as codes worded once per call."""

    def __init__(self, parts: Sequence[tuple[str, ReasonPart]], profiles: ProfileArrays) -> None:
        self.names = [name for name, _ in parts]
        self.parts = [part for _, part in parts]
        self.profiles = profiles
        # A pick's codes are packed into one int64 (mixed radix, shifted by 1) when they
        # fit: a million picks then cost 8 MB, not 8 MB per part, and the distinct
        # reasons are one np.unique.
        radix = [part.size(profiles) + 1 for part in self.parts]
        self.radix = radix if math.prod(radix) < 2**62 else None

    def emit(
        self, chunk: Chunk, picked: np.ndarray, base: np.ndarray, signals: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(profile, paper row, score, reason codes) of the chunk's picks, by profile and
        best first within a profile; codes have one column per part."""
        local, slot = np.nonzero((picked >= 0) & (np.arange(picked.shape[1]) < chunk.k[:, None]))
        paper = picked[local, slot]
        # Forced picks carry FORCED in the selection key only: scores stay comparable.
        score = base[local, paper]
        order = np.lexsort((-score, local))  # by row, best first
        local, paper, score = local[order], paper[order], score[order]
        codes = self.codes(Picked(chunk, local, paper, signals))
        return chunk.rows[local], paper, score, self._pack([codes[name] for name in self.names])

    def _pack(self, codes: list[np.ndarray]) -> np.ndarray:
        if self.radix is None:
            return np.stack(codes, axis=1).astype(np.int64).reshape(len(codes[0]), len(codes))
        packed = codes[0].astype(np.int64) + 1
        for code, size in zip(codes[1:], self.radix[1:], strict=True):
            packed *= size
            packed += code + 1
        return packed

    def _unpack(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct code rows (in lexicographic order) and each pick's row among them."""
        if self.radix is None:
            return _unique_rows(codes)
        packed, inverse = np.unique(codes, return_inverse=True)
        unique = np.empty((len(packed), len(self.radix)), np.int64)
        for j in reversed(range(len(self.radix))):
            packed, digit = np.divmod(packed, self.radix[j])
            unique[:, j] = digit - 1
        return unique, inverse.reshape(-1)

    def codes(self, picked: Picked) -> dict[str, np.ndarray]:
        """Each part's code per pick, in table order, at most MAX_REASON_PARTS said."""
        codes: dict[str, np.ndarray] = {}
        for name, part in zip(self.names, self.parts, strict=True):
            codes[name] = part.code(picked, codes)
        said = np.zeros(len(picked.local), np.int64)
        for code in codes.values():
            said += code >= 0
            code[said > MAX_REASON_PARTS] = -1
        return codes

    def columns(
        self, parts: list[tuple[np.ndarray, ...]], n_profiles: int, position: np.ndarray
    ) -> RankedColumns:
        profile, paper, score, codes = (np.concatenate(c) for c in zip(*parts, strict=True))
        # Each profile is in one chunk and its picks are contiguous there: a stable sort
        # by profile puts the chunks' picks in the profiles' order.
        order = np.argsort(profile, kind="stable")
        offsets = np.zeros(n_profiles + 1, np.int64)
        np.cumsum(np.bincount(profile, minlength=n_profiles), out=offsets[1:])
        unique, inverse = self._unpack(codes)
        texts, reasons, remap = self._wording(unique)
        return RankedColumns(
            offsets=offsets,
            paper=position[paper[order]],
            score=score[order].astype(np.float32, copy=False),
            reason=remap[inverse[order]],
            reason_texts=texts,
            reason_parts=reasons,
        )

    def _wording(self, unique: np.ndarray) -> tuple[list[str], list[tuple[str, ...]], np.ndarray]:
        # Two code rows can read the same (two papers with as many upvotes): one text each.
        words: list[dict[int, str]] = [{} for _ in self.parts]
        text_id: dict[str, int] = {}
        texts: list[str] = []
        reasons: list[tuple[str, ...]] = []
        remap = np.empty(len(unique), np.int32)
        for row, codes in enumerate(unique.tolist()):
            said = tuple(self._word(words, j, code) for j, code in enumerate(codes) if code >= 0)
            text = "; ".join(said)
            remap[row] = j = text_id.setdefault(text, len(texts))
            if j == len(texts):
                texts.append(text)
                reasons.append(said)
        return texts, reasons, remap

    def _word(self, words: list[dict[int, str]], part: int, code: int) -> str:
        text = words[part].get(code)
        if text is None:
            text = words[part][code] = self.parts[part].word(self.profiles, code)
        return text


def _unique_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an int array (codes >= -1), and for each row the index of its
    distinct row. The rows are packed into one int64 each when they fit (they do unless
    the vocabularies are huge), so that it is one np.unique, else sorted column by column."""
    if len(codes) == 0:
        return codes, np.zeros(0, np.int64)
    shifted = codes + 1
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
