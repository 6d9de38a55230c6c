from __future__ import annotations

import numpy as np
import pytest

from digest.ranking import Profile, parse_interests, rank_for_all
from digest.ranking import explain as explain_module
from digest.ranking.explain import explain
from digest.ranking.signals import DEFAULT_WEIGHTS, SIGNALS, Signal, always
from tests.digest.ranking.conftest import paper


@pytest.fixture(autouse=True)
def _no_semantic_model(settings):
    # These pages are checked with the semantic signal off (an installation without its
    # model), so one row shows as "not used"; tests/digest/ranking/test_semantic.py
    # covers the default model.
    settings.DIGEST_SEMANTIC = False


def reader(**fields: object) -> Profile:
    fields.setdefault(
        "interests", parse_interests("video diffusion, retrieval augmented generation")
    )
    return Profile(key=1, k=6, **fields)  # type: ignore[arg-type]


def with_categories(day, categories: dict[str, tuple[str, ...]]):
    return [
        paper(
            c.arxiv_id,
            c.title,
            c.abstract,
            upvotes=c.upvotes,
            categories=categories.get(c.arxiv_id, ()),
        )
        for c in day
    ]


def test_the_total_and_the_reason_are_the_ones_the_ranker_gave_each_pick(day):
    day = with_categories(day, {"2607.00002": ("cs.CV", "cs.LG")})
    profile = reader(categories=("cs.CV",), liked=("2607.00004",))

    picks = rank_for_all(day, [profile])[0]

    assert len(picks) >= 4
    for pick in picks:
        why = explain(day, profile, pick.arxiv_id)
        assert round(why.total, 4) == pick.score
        assert why.reason == pick.reason


def test_the_contributions_are_every_signal_of_the_table_and_add_up_to_the_total(day):
    why = explain(day, reader(liked=("2607.00001",)), "2607.00004")

    assert [c.name for c in why.contributions] == [s.name for s in SIGNALS]
    on = [c for c in why.contributions if c.on]
    assert sum(c.contribution for c in on) == pytest.approx(why.total, abs=1e-5)
    for c in on:
        assert c.contribution == pytest.approx(c.sign * c.weight * c.score)
        assert 0.0 <= c.score <= 1.0
    semantic = next(c for c in why.contributions if c.name == "semantic")
    assert not semantic.on and semantic.contribution == 0.0  # off without its model


def test_a_signal_added_to_the_table_shows_up_without_changing_the_page(day, monkeypatch):
    def first_paper_only(chunk):
        values = np.zeros((len(chunk.rows), chunk.day.corpus.n), np.float32)
        values[:, 0] = 1.0
        return values

    extra = Signal("newcomer", 0.7, always(first_paper_only))
    monkeypatch.setattr(explain_module, "SIGNALS", (*SIGNALS, extra))

    why = explain(day, reader(), "2607.00001", weights={**DEFAULT_WEIGHTS, "newcomer": 0.7})

    (row,) = [c for c in why.contributions if c.name == "newcomer"]
    assert (row.on, row.score, row.contribution) == (True, 1.0, pytest.approx(0.7))
    assert sum(c.contribution for c in why.contributions) == pytest.approx(why.total, abs=1e-5)


def test_it_names_the_matched_phrases_in_the_readers_spelling(day):
    profile = reader(interests=parse_interests("Video Diffusion, protein folding, quantum"))

    why = explain(day, profile, "2607.00002")

    assert why.matched_phrases == ("Video Diffusion",)
    keywords = next(c for c in why.contributions if c.name == "keywords")
    assert keywords.said == "matches 'Video Diffusion'" and keywords.score > 0


def test_it_names_the_liked_paper_the_pick_resembles_most(day):
    profile = reader(liked=("2607.00001", "2607.00006"))

    why = explain(day, profile, "2607.00004")

    assert why.resembles is not None
    assert (why.resembles.arxiv_id, why.resembles.title) == (
        "2607.00001",
        "Retrieval-Augmented Generations for open-domain QA",
    )
    assert why.resembles.similarity > 0


def test_a_liked_paper_of_the_catalogue_counts_too(day):
    liked = paper(
        "2501.00001", "Retrieval augmented generation survey", "Retrieval augmented generation."
    )

    why = explain(day, reader(liked=("2501.00001",)), "2607.00001", reference=[liked])

    assert why.resembles is not None and why.resembles.arxiv_id == "2501.00001"


def test_the_paper_itself_is_not_the_liked_paper_it_resembles(day):
    why = explain(day, reader(liked=("2607.00002",)), "2607.00002")

    assert why.resembles is None
    assert next(c for c in why.contributions if c.name == "liked").score == 0.0


def test_it_gives_the_categories_the_chosen_ones_and_the_popularity(day):
    day = with_categories(day, {"2607.00002": ("cs.CV", "cs.LG", "cs.MM")})

    why = explain(day, reader(categories=("cs.lg", "cs.CL")), "2607.00002")

    assert why.categories == ("cs.CV", "cs.LG", "cs.MM")
    assert why.matched_categories == ("cs.LG",)
    assert why.upvotes == 212
    categories = next(c for c in why.contributions if c.name == "categories")
    assert (categories.score, categories.said) == (1.0, "in cs.LG")
    popularity = next(c for c in why.contributions if c.name == "popularity")
    assert popularity.score == 1.0 and popularity.said == "trending: 212 upvotes"


def test_a_followed_authors_paper_says_it_is_always_picked(day):
    day = [*day, paper("2607.00009", "Notes", authors=("Grace Hopper",))]

    why = explain(day, reader(authors=("grace hopper",)), "2607.00009")

    authors = next(c for c in why.contributions if c.name == "authors")
    assert authors.forces and authors.score == 1.0
    assert authors.said == "by Grace Hopper, whom you follow"


def test_a_paper_that_is_not_a_candidate_has_no_explanation(day):
    assert explain(day, reader(), "2607.99999") is None
    assert explain([], reader(), "2607.00001") is None


def test_a_reader_with_a_like_is_shown_the_weights_of_readers_with_likes(day):
    liking = explain(day, reader(liked=("2607.00001",)), "2607.00004")
    other = explain(day, reader(), "2607.00004")

    def weight(why, name):
        return next(c.weight for c in why.contributions if c.name == name)

    assert weight(other, "popularity") == DEFAULT_WEIGHTS["popularity"]
    assert weight(liking, "popularity") == pytest.approx(DEFAULT_WEIGHTS["popularity"] * 0.4)
    assert weight(liking, "liked") == pytest.approx(DEFAULT_WEIGHTS["liked"] * 0.5)
    assert weight(liking, "keywords") == weight(other, "keywords")
