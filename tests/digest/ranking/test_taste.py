"""The taste signal: each reader's model learned from likes and dislikes (taste.py)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from digest.ranking import Profile, Ranker, rank_for_all
from digest.ranking import semantic as ranking_semantic
from tests.digest.ranking.conftest import paper
from tests.digest.ranking.test_semantic import FakeEncoder

ONLY_TASTE = {
    "keywords": 0, "liked": 0, "disliked": 0, "categories": 0, "authors": 0,
    "semantic": 0, "popularity": 0.01, "taste": 1.0,
}  # fmt: skip

CARS = [
    paper("car0", "Automobile fleet routing", "We route a vehicle fleet through cities."),
    paper("car1", "Vehicle emissions in cities", "Measuring what each car emits on roads."),
    paper("car2", "Car sharing demand", "Forecasting demand for shared vehicle trips."),
    paper("car3", "Automobile engine wear", "Engine wear of an automobile over years."),
]
CATS = [
    paper("cat0", "Feline vision", "How a cat sees at dusk."),
    paper("cat1", "Cat behaviour at night", "Nocturnal hunting of the domestic feline."),
    paper("cat2", "Feline genetics", "Coat colour genes of the cat."),
    paper("cat3", "Cat allergy treatment", "Allergen shots for owners of a feline."),
]
STOCKS = [
    paper("stock0", "Stock price forecasting", "Predicting daily returns of a stock."),
    paper("stock1", "Stock market microstructure", "Order books of stock exchanges."),
    paper("stock2", "Stock portfolio risk", "Hedging a stock portfolio with options."),
    paper("stock3", "Stock index options", "Pricing options on a stock index."),
]
FILLER = [
    "proteins",
    "glaciers",
    "volcanoes",
    "tides",
    "orchids",
    "comets",
    "bridges",
    "violins",
    "sonnets",
]
DAY = [*CARS, *CATS, *STOCKS]


@pytest.fixture(autouse=True)
def _fake_model(settings):
    settings.DIGEST_SEMANTIC = True
    ranking_semantic.use_encoder(FakeEncoder(), name="fake")


def test_it_ranks_papers_like_the_liked_ones_first():
    profile = Profile(key=1, liked=("car0", "car1"), k=2)
    (picks,) = rank_for_all(DAY, [profile], weights=ONLY_TASTE)
    assert {p.arxiv_id for p in picks} == {"car2", "car3"}


def test_its_reason_is_said_where_no_liked_paper_is_named():
    # The liked papers share one word, "glacier", and each has a dozen words of its own
    # (each also in one unliked paper, so that they count in the similarities). Today's
    # glacier papers share only that word with them: no liked paper is close enough to
    # be named, but the word the liked papers share is the model's heaviest term.
    def words(prefix: str) -> str:
        return " ".join(f"{prefix}{chr(97 + i)}" for i in range(12))

    liked = [paper(f"old{i}", "Glacier", f"Glacier {words(f'liked{i}x')}.") for i in range(3)]
    decoys = [paper(f"decoy{i}", "Decoy", f"{words(f'liked{i}x')}.") for i in range(3)]
    glaciers = [paper(f"ice{i}", "Glacier", f"Glacier {words(f'today{i}x')}.") for i in range(2)]
    others = [paper(f"x{i}", w, f"{words(f'today{i % 2}x')} {w}.") for i, w in enumerate(FILLER)]
    profile = Profile(key=1, liked=tuple(p.arxiv_id for p in liked), k=2)
    (picks,) = rank_for_all(
        [*glaciers, *others], [profile], reference=[*liked, *decoys], weights=ONLY_TASTE
    )
    reasons = {p.arxiv_id: p.reason for p in picks}
    assert reasons == dict.fromkeys(["ice0", "ice1"], "in line with the papers you liked")


def test_a_dislike_pulls_the_model_away():
    liked_both = Profile(key=1, liked=("car0", "cat0"), k=4)
    also_disliked = Profile(key=2, liked=("car0", "cat0"), disliked=("cat1",), k=4)
    picks = rank_for_all(DAY, [liked_both, also_disliked], weights=ONLY_TASTE)
    ranked = [[p.arxiv_id[:3] for p in row] for row in picks]
    assert ranked[1][:2] == ["car", "car"]
    assert ranked[0] != ranked[1]


def test_a_reader_without_likes_gets_nothing_from_it():
    ranker = Ranker(DAY, weights={"taste": 0.5})
    lonely = Profile(key=1, interests=("stock",), k=5)
    liker = Profile(key=2, liked=("car0",), k=5)
    alone = ranker.rank([lonely])[0]
    together = ranker.rank([lonely, liker])[0]
    without = Ranker(DAY, weights={"taste": 0.0}).rank([lonely])[0]
    assert alone == together == without


def test_contradictory_feedback_is_ignored_and_logged(caplog):
    profile = Profile(key=1, liked=("car0", "cat0"), disliked=("car0",), k=3)
    with caplog.at_level(logging.INFO, logger="digest.ranking.taste"):
        (picks,) = rank_for_all(DAY, [profile], weights=ONLY_TASTE)
    assert "liked and disliked the same paper" in caplog.text
    # The contradicted paper says nothing: the model is the cats' alone.
    assert [p.arxiv_id[:3] for p in picks] == ["cat", "cat", "cat"]
    assert "car0" not in {p.arxiv_id for p in picks}


def test_hundreds_of_likes_and_likes_of_unknown_papers_rank_sensibly():
    many = (*tuple(f"gone{i}" for i in range(300)), "stock0")
    profile = Profile(key=1, liked=many, k=3)
    (picks,) = rank_for_all(DAY, [profile], weights=ONLY_TASTE)
    assert [p.arxiv_id[:5] for p in picks] == ["stock"] * 3


def test_only_unknown_likes_rank_as_no_likes():
    profile = Profile(key=1, liked=("gone1", "gone2"), k=5)
    got = rank_for_all(DAY, [profile])
    assert got == rank_for_all(DAY, [profile], weights={"taste": 0.0})


def test_a_paper_without_text_does_not_break_the_model():
    empty = paper("empty", "", "")
    profile = Profile(key=1, liked=("empty", "car0"), k=3)
    (picks,) = rank_for_all([*DAY, empty], [profile], weights=ONLY_TASTE)
    assert len(picks) == 3
    assert all(np.isfinite(p.score) for p in picks)


def test_liked_reference_papers_count_like_todays():
    profile = Profile(key=1, liked=("old-car",), k=2)
    old = paper("old-car", "Automobile history", "Cars and vehicles of old.")
    (picks,) = rank_for_all(DAY, [profile], reference=[old], weights=ONLY_TASTE)
    assert all(p.arxiv_id.startswith("car") for p in picks)


def test_it_needs_no_embedding_model(settings, monkeypatch):
    ranking_semantic.use_encoder(None)
    monkeypatch.setattr(ranking_semantic, "_load_wordllama", lambda: None)
    settings.DIGEST_SEMANTIC = False
    profile = Profile(key=1, liked=("car0", "car1"), k=2)
    (picks,) = rank_for_all(DAY, [profile], weights=ONLY_TASTE)
    assert {p.arxiv_id for p in picks} == {"car2", "car3"}
    assert rank_for_all(DAY, [profile]) != rank_for_all(DAY, [profile], weights={"taste": 0.0})


def test_the_terms_the_liked_papers_share_weigh_far_more_than_one_papers():
    # Both liked papers are about glaciers; only one of each mentions oceans or volcanoes.
    liked = [
        paper("a", "Glacier melt", "Glacier melt, ocean currents and ocean salinity."),
        paper("b", "Glacier flow", "Glacier flow near a volcano."),
    ]
    shared = paper("c", "Glacier survey", "A glacier survey from the air.")
    single = paper("d", "Ocean currents", "Ocean currents and ocean salinity, and the air.")
    profile = Profile(key=1, liked=("a", "b"), k=2)
    (picks,) = rank_for_all([shared, single], [profile], reference=liked, weights=ONLY_TASTE)
    scores = {p.arxiv_id: p.score for p in picks}
    assert scores["c"] > 0.2 and scores["d"] == 0.0
    # The plain centroid of the liked papers (the ``liked`` signal) does not tell them apart.
    only_liked = {**ONLY_TASTE, "taste": 0.0, "liked": 1.0}
    (plain,) = rank_for_all([shared, single], [profile], reference=liked, weights=only_liked)
    centroid = {p.arxiv_id: p.score for p in plain}
    assert centroid["d"] >= centroid["c"]


def test_readers_with_likes_get_their_own_weights_and_the_others_keep_theirs(day):
    lonely = Profile(key=1, interests=("retrieval",), k=3)
    liker = Profile(key=2, interests=("retrieval",), liked=("2607.00002",), k=3)
    ranker = Ranker(day)
    same = Ranker(day, weights={"with_likes": 0.0})
    assert ranker.rank([lonely, liker])[0] == same.rank([lonely])[0]
    got = {p.arxiv_id: p.score for p in ranker.rank([liker])[0]}
    before = {p.arxiv_id: p.score for p in same.rank([liker])[0]}
    assert got != before


def test_a_day_with_no_common_term_gives_no_taste():
    # Two papers with no word in common: no term is on MIN_DF of the papers.
    day = [paper("a", "Glaciers", "Ice."), paper("b", "Violins", "Strings.")]
    profile = Profile(key=1, liked=("a",), k=2)
    (picks,) = rank_for_all(day, [profile], weights=ONLY_TASTE)
    assert [(p.arxiv_id, p.score) for p in picks] == [("b", 0.0)]  # a is liked: not picked
