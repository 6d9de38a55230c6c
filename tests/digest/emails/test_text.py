from __future__ import annotations

import pytest

from digest.emails.text import SUBJECT_CHARS, cut_at_word, digest_subject, wrap_text

URL = "https://example.org/feedback/1.1.1:1xZ7Ag:pVU7Fsj0KLEzGAyZ-szUtQmYORTs/like/2607.10000/"


@pytest.mark.parametrize(
    "title",
    [
        "Attention Is All You Need " * 6,
        "Ünïcödé-ŝtrüctured diffusion für Vïdeo — 視覚と言語の大規模モデル " * 3,
        "x" * 200,  # one word longer than the subject
        "Short title",
    ],
)
@pytest.mark.parametrize("more", [0, 1, 9, 19])
def test_a_subject_is_led_by_the_top_title_and_at_most_70_characters(title, more):
    subject = digest_subject(title, more)
    assert len(subject) <= SUBJECT_CHARS
    assert subject.startswith(title.split()[0][:20])
    assert subject.endswith(f" + {more} more") if more else "more" not in subject


def test_a_long_title_is_cut_at_a_word_with_an_ellipsis():
    subject = digest_subject("Scaling laws for sparse mixture of experts in long context " * 2, 9)
    assert subject == "Scaling laws for sparse mixture of experts in long context… + 9 more"
    assert digest_subject("A short one", 3) == "A short one + 3 more"


def test_cut_at_word_keeps_text_that_fits_and_squeezes_whitespace():
    assert cut_at_word("a  b\nc", 10) == "a b c"
    assert cut_at_word("alpha beta gamma", 11) == "alpha beta…"
    assert cut_at_word("alpha beta, gamma", 12) == "alpha beta…"


def test_wrap_text_wraps_lines_at_78_columns_and_keeps_short_lines():
    text = "Title\n\n" + "word " * 60 + "\n  indented " + "w " * 60
    out = wrap_text(text)
    lines = out.split("\n")
    assert lines[:2] == ["Title", ""]
    assert all(len(line) <= 78 for line in lines)
    first = next(i for i, line in enumerate(lines) if line.startswith("  indented"))
    assert len(lines) > first + 1 and all(line.startswith("  w") for line in lines[first + 1 :])
    assert out.split() == text.split()  # no word lost or broken


def test_wrap_text_puts_a_long_url_on_a_line_of_its_own_unbroken():
    out = wrap_text(f"More like this: {URL} and then some words")
    assert out.split("\n") == ["More like this:", URL, "and then some words"]
