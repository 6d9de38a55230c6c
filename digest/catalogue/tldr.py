"""A paper's TL;DR: its AI summary when the source gave one, else its abstract's first
sentence. Pure, so the email, the landing page's cards and the archive can share it."""

from __future__ import annotations

import re

TLDR_CHARS = 280
# A sentence ends at . ! or ? followed by space and a capital, digit or opening mark,
# unless the word before is an abbreviation that usually precedes more of the sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'“])")
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "al.", "vs.", "cf.", "etc.", "fig.", "eq."})


def paper_tldr(*, ai_summary: str, abstract: str, limit: int = TLDR_CHARS) -> str:
    """At most ``limit`` characters, cut at a word with "…" when longer."""
    text = " ".join((ai_summary or "").split()) or first_sentence(abstract or "")
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    for match in _SENTENCE_END.finditer(text):
        head = text[: match.start()]
        last_word = head.rsplit(" ", 1)[-1].lower().lstrip("([\"'“")
        if last_word not in _ABBREVIATIONS:
            return head
    return text
