"""Why one paper was ranked where it was, for one reader: the "why this paper?" page.

Pure, like the rest of the package: the same inputs as a rank call (the day's
candidates, the reference papers, one profile), the same day preparation, and every
signal of the table bound and scored exactly as the ranker does, then read at the one
paper. Generic over the table (signals.py): each signal's row is its name, weight, sign,
score in [0, 1], contribution (sign x weight x score) and its own reason words; a signal
added to the table shows up here with nothing to change.

Next to the rows, the facts a reader asks about: the interest phrases found in the
paper, the liked paper it resembles most, its categories (and which the reader chose),
its upvotes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from digest.ranking.corpus import Day
from digest.ranking.profiles import Chunk, ProfileArrays
from digest.ranking.ranker import blend, reason_parts
from digest.ranking.reasons import Picked, ReasonCodes
from digest.ranking.signals import SIGNALS, Score, Signal, resolve_weights
from digest.ranking.types import Candidate, Profile


@dataclass(frozen=True, slots=True)
class Contribution:
    """One signal of the table, at this paper for this reader."""

    name: str
    weight: float
    sign: float
    score: float  # in [0, 1]; 0 when the signal is off
    contribution: float  # sign x weight x score: its part of the total
    on: bool  # False: off for this call (e.g. the semantic signal without its model)
    said: str  # this signal's own words about the pick, "" when it has none
    forces: bool  # a hit always makes the email (followed authors)


@dataclass(frozen=True, slots=True)
class Resemblance:
    arxiv_id: str
    title: str
    similarity: float  # tf-idf cosine, as the liked signal reads it


@dataclass(frozen=True, slots=True)
class Explanation:
    arxiv_id: str
    title: str
    total: float  # the blended score (what the email's picks store, before rounding)
    reason: str  # the short reason, as the ranker words it
    contributions: tuple[Contribution, ...]
    matched_phrases: tuple[str, ...]  # the reader's own spelling, weightiest first
    resembles: Resemblance | None
    categories: tuple[str, ...]  # the paper's, primary first
    matched_categories: tuple[str, ...]  # those the reader chose
    upvotes: int


def explain(
    candidates: Sequence[Candidate],
    profile: Profile,
    arxiv_id: str,
    *,
    reference: Sequence[Candidate] = (),
    weights: Mapping[str, float] | None = None,
) -> Explanation | None:
    """The breakdown of ``arxiv_id``'s score for ``profile``; None if it is not a candidate.

    The paper itself is left out of the profile's liked and disliked papers: a reader who
    clicked "more like this" on it is not told it resembles itself.
    """
    day = Day(tuple(candidates), reference) if candidates else None
    if day is None or arxiv_id not in day.today:
        return None
    column = day.today[arxiv_id]
    profile = _without(profile, arxiv_id)
    arrays = ProfileArrays([profile], day)
    chunk = Chunk(arrays, np.zeros(1, np.int64))
    resolved = resolve_weights(weights)
    bound = _bind(arrays, resolved)
    signals = {name: fn(chunk) for name, fn in bound.items()}
    table = [s for s in SIGNALS if s.name in bound]
    liking = (chunk.liked != arrays.pad_row).any(axis=1)
    total = blend(table, signals, resolved, (1, day.corpus.n), liking)[0, column]
    picked = Picked(chunk, np.zeros(1, np.int64), np.array([column]), signals)
    said, reason = _words(table, arrays, picked)
    paper = day.corpus.docs[column]
    return Explanation(
        arxiv_id=arxiv_id,
        title=paper.title,
        total=float(total),
        reason=reason,
        contributions=tuple(
            _contribution(s, s.weight_for(resolved, bool(liking[0])), signals, column, said)
            for s in SIGNALS
        ),
        matched_phrases=_phrases(chunk, column),
        resembles=_resemblance(chunk, column),
        categories=paper.categories,
        matched_categories=_chosen(paper.categories, profile.categories),
        upvotes=int(day.corpus.upvotes[column]),
    )


def _without(profile: Profile, arxiv_id: str) -> Profile:
    return Profile(
        key=profile.key,
        interests=profile.interests,
        categories=profile.categories,
        liked=tuple(a for a in profile.liked if a != arxiv_id),
        disliked=tuple(a for a in profile.disliked if a != arxiv_id),
        authors=profile.authors,
        exclude=profile.exclude,
        k=profile.k,
    )


def _bind(arrays: ProfileArrays, weights: Mapping[str, float]) -> dict[str, Score]:
    """As the ranker binds the table: signals that are off for this call are left out."""
    bound = {}
    for signal in SIGNALS:
        fn = signal.bind(arrays, weights[signal.name])
        if fn is not None:
            bound[signal.name] = fn
    return bound


def _words(
    table: Sequence[Signal], arrays: ProfileArrays, picked: Picked
) -> tuple[dict[str, str], str]:
    """Each signal's own words about the pick, and the short reason the email gives."""
    parts = reason_parts(table)
    codes: dict[str, np.ndarray] = {}
    said: dict[str, str] = {}
    for name, part in parts:
        codes[name] = part.code(picked, codes)
        code = int(codes[name][0])
        if code >= 0:
            said[name] = part.word(arrays, code)
    short = ReasonCodes(parts, arrays).codes(picked)
    words = [said[name] for name, _ in parts if short[name][0] >= 0]
    return said, "; ".join(words)


def _contribution(
    signal: Signal,
    signed_weight: float,
    signals: Mapping[str, np.ndarray],
    column: int,
    said: Mapping[str, str],
) -> Contribution:
    """``signed_weight``: the signal's weight for this reader, with its sign."""
    name, sign, forces = signal.name, signal.sign, signal.forces
    values = signals.get(name)
    weight = float(signed_weight) * sign
    if values is None:
        return Contribution(name, weight, sign, 0.0, 0.0, False, "", forces)
    score = float(values[column] if values.ndim == 1 else values[0, column])
    return Contribution(
        name, weight, sign, score, sign * weight * score, True, said.get(name, ""), forces
    )


def _phrases(chunk: Chunk, column: int) -> tuple[str, ...]:
    profiles = chunk.profiles
    found = []
    for phrase, spelling in zip(chunk.phrases[0], chunk.spellings[0], strict=True):
        if phrase == profiles.n_phrases:  # padding
            continue
        weight = float(profiles.phrase_weights[column, phrase])
        if weight > 0:
            found.append((-weight, profiles.phrase_text[spelling]))
    return tuple(text for _, text in sorted(found))


def _resemblance(chunk: Chunk, column: int) -> Resemblance | None:
    corpus = chunk.day.corpus
    liked = [int(row) for row in chunk.liked[0] if row != chunk.profiles.pad_row]
    if not liked:
        return None
    sims = corpus.sim[liked, column]
    best = int(np.argmax(sims))
    doc = corpus.docs[liked[best]]
    return Resemblance(doc.arxiv_id, doc.title, float(sims[best]))


def _chosen(categories: Sequence[str], wanted: Sequence[str]) -> tuple[str, ...]:
    folded = {c.casefold() for c in wanted}
    return tuple(c for c in categories if c.casefold() in folded)
