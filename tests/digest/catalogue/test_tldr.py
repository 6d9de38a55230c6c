from __future__ import annotations

from digest.catalogue.tldr import first_sentence, paper_tldr


def test_it_prefers_the_ai_summary():
    assert paper_tldr(ai_summary="A model  that reads.", abstract="We study X. Then Y.") == (
        "A model that reads."
    )


def test_it_falls_back_to_the_abstracts_first_sentence():
    abstract = "We study scaling laws for 3.5B models. Results show gains.\nMore text."
    assert paper_tldr(ai_summary="", abstract=abstract) == "We study scaling laws for 3.5B models."


def test_it_does_not_stop_at_abbreviations():
    text = "Models (e.g. GPT) and baselines of Smith et al. Are compared. Next one."
    assert first_sentence(text) == "Models (e.g. GPT) and baselines of Smith et al. Are compared."


def test_a_sentence_without_an_end_is_the_whole_text():
    assert first_sentence("no full stop here") == "no full stop here"


def test_a_long_tldr_is_cut_at_a_word_with_an_ellipsis():
    out = paper_tldr(ai_summary="word " * 100, abstract="", limit=50)
    assert len(out) <= 50 and out.endswith("word…")


def test_nothing_stored_gives_an_empty_tldr():
    assert paper_tldr(ai_summary="", abstract="") == ""
