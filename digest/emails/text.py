"""Plain-text and subject shaping shared by every email: 78-column lines, short subjects."""

from __future__ import annotations

import textwrap

TEXT_WIDTH = 78  # RFC 5322 2.1.1's SHOULD; a bare URL may stand longer on its own line
SUBJECT_CHARS = 70
ELLIPSIS = "…"


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Each line wrapped at spaces to ``width``; a word longer than that (a URL) gets a
    line of its own rather than being broken, so it stays clickable."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip(" "))]
        out += textwrap.wrap(
            line,
            width=width,
            initial_indent="",
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [line]
    return "\n".join(out)


def cut_at_word(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at a word and ended with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    budget = limit - len(ELLIPSIS)
    cut = text[:budget]
    if text[budget] != " " and " " in cut:  # cut inside a word: drop that word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-\u2013\u2014") + ELLIPSIS


def digest_subject(top_title: str, more: int, limit: int = SUBJECT_CHARS) -> str:
    """ "<top title, cut at a word with …> + N more", at most ``limit`` characters."""
    suffix = f" + {more} more" if more > 0 else ""
    return cut_at_word(top_title, limit - len(suffix)) + suffix
