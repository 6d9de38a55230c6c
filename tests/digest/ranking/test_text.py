from __future__ import annotations

from digest.ranking.text import (
    MAX_PHRASES,
    author_key,
    count_phrases,
    parse_interests,
    phrase_key,
    phrase_starts,
    segments,
    shorten,
)


def test_it_splits_interests_on_commas_semicolons_and_newlines():
    text = "diffusion models; video generation\n  retrieval-augmented generation , RAG"
    assert parse_interests(text) == (
        "diffusion models",
        "video generation",
        "retrieval-augmented generation",
        "RAG",
    )


def test_it_drops_duplicate_and_empty_interests():
    text = "Diffusion Models, diffusion model,, ; the , LLMs, llm"
    assert parse_interests(text) == ("Diffusion Models", "LLMs")


def test_it_caps_the_number_and_length_of_interests():
    many = ", ".join(f"topic{i}" for i in range(50))
    assert len(parse_interests(many)) == MAX_PHRASES
    (long,) = parse_interests("x" * 500)
    assert len(long) == 80


def test_it_normalises_hyphens_case_and_plurals_the_same_way_on_both_sides():
    assert phrase_key("Retrieval-Augmented Generations") == "retrieval augmented generation"
    assert phrase_key("retrieval augmented generation") == "retrieval augmented generation"
    assert phrase_key("policies") == "policy"
    assert phrase_key("analysis") == "analysis"
    assert phrase_key("classes") == "class"


def test_it_counts_a_phrase_only_where_its_words_are_adjacent():
    vocab = {"retrieval augmented generation", "video"}
    fields = [
        (segments("Retrieval-augmented generation for video"), 2.0),
        (segments("Generation is augmented by retrieval. Video! video"), 1.0),
    ]
    counts = count_phrases(fields, vocab, phrase_starts(vocab))
    assert counts == {"retrieval augmented generation": 2.0, "video": 4.0}


def test_it_does_not_match_a_phrase_across_a_sentence_end():
    vocab = {"model video"}
    fields = [(segments("We train a model. Video is hard."), 1.0)]
    assert count_phrases(fields, vocab, phrase_starts(vocab)) == {}


def test_it_compares_author_names_without_case_accents_or_dots():
    assert author_key("José  A. García") == author_key("jose a garcia")


def test_it_shortens_long_titles_on_a_word_boundary():
    title = "A very long title about retrieval augmented generation for everything"
    short = shorten(title, 30)
    assert short.endswith("…") and len(short) <= 30
    assert title.startswith(short[:-1])
