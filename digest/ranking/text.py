"""Text normalisation for the ranker: tokens, phrases, author names (pure, no Django).

One normaliser is applied to both sides (papers and interests), so that
"Retrieval-Augmented Generations" and "retrieval augmented generation" become the
same token sequence: lower case, hyphens and punctuation as separators, plurals folded.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache

MAX_PHRASE_TOKENS = 6
MAX_PHRASES = 20
MAX_PHRASE_CHARS = 80

_TOKEN = re.compile(r"[a-z0-9]+")
# Sentence and clause ends: a phrase must not match across them.
_SEGMENT_BREAK = re.compile(r"[.;:!?()\[\]{}\"]+(?:\s|$)|\n\s*\n")
_INTEREST_SPLIT = re.compile(r"[,;\n]+")
# Words that end in "s" but are not plurals (and "-ss", "-us", "-is" cover most others).
_NOT_PLURAL = frozenset({"gas", "lens", "news", "series", "species", "chaos", "atlas", "bias"})
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "this",
        "to",
        "using",
        "via",
        "we",
        "with",
        "without",
    ]
)


def fold(text: str) -> str:
    """Lower case without accents; hyphens, slashes and underscores become spaces."""
    if not text.isascii():
        # Accents go; other non-ASCII letters could not be part of a token anyway.
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[-\u2010-\u2015_/]+", " ", text.casefold())


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """Fold plurals only ("models" -> "model", "policies" -> "policy"): light and predictable."""
    if len(token) <= 3 or not token.endswith("s") or token in _NOT_PLURAL:
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("ss", "us", "is")):
        return token
    if token.endswith("sses"):
        return token[:-2]
    return token[:-1]


def tokens(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(fold(text))]


def segments(text: str) -> list[list[str]]:
    """Token lists for each clause of ``text``; n-grams never cross a clause boundary."""
    out = []
    for part in _SEGMENT_BREAK.split(text):
        toks = tokens(part)
        if toks:
            out.append(toks)
    return out


@lru_cache(maxsize=65536)
def phrase_key(phrase: str) -> str:
    """The normalised form of an interest phrase ("" if nothing is left to match)."""
    toks = tokens(phrase)[:MAX_PHRASE_TOKENS]
    if all(t in _STOPWORDS for t in toks):
        return ""
    return " ".join(toks)


def parse_interests(text: str) -> tuple[str, ...]:
    """Split free text on commas, semicolons and newlines; trim, dedupe, cap length and count."""
    seen: set[str] = set()
    out: list[str] = []
    for raw in _INTEREST_SPLIT.split(text or ""):
        phrase = " ".join(raw.split())[:MAX_PHRASE_CHARS].strip(" .'\"")
        key = phrase_key(phrase)
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(phrase)
        if len(out) == MAX_PHRASES:
            break
    return tuple(out)


def phrase_starts(vocabulary: set[str]) -> dict[str, list[int]]:
    """First word of the vocabulary phrases -> the phrase lengths that start with it."""
    starts: dict[str, list[int]] = {}
    for phrase in vocabulary:
        words = phrase.split(" ")
        sizes = starts.setdefault(words[0], [])
        if len(words) not in sizes:
            sizes.append(len(words))
    return starts


def count_phrases(
    fields: Sequence[tuple[list[list[str]], float]],
    vocabulary: set[str],
    starts: dict[str, list[int]],
) -> dict[str, float]:
    """Weighted counts of the vocabulary phrases found, as adjacent tokens, in the fields.

    ``fields`` pairs a text's segments (see ``segments``) with a weight: a match in the
    title counts more than one in the abstract. Only n-grams that start with the first
    word of some phrase, with the length of such a phrase (``phrase_starts``), are built.
    """
    counts: defaultdict[str, float] = defaultdict(float)
    for segs, weight in fields:
        for seg in segs:
            end = len(seg)
            for i, word in enumerate(seg):
                for n in starts.get(word, ()):
                    if i + n <= end:
                        gram = " ".join(seg[i : i + n])
                        if gram in vocabulary:
                            counts[gram] += weight
    return counts


@lru_cache(maxsize=65536)
def author_key(name: str) -> str:
    """Compare author names without case, accents, dots or extra spaces."""
    return " ".join(_TOKEN.findall(fold(name).replace(".", " ")))


def shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"
