"""Diversity, no repeats, k, ordering, and many profiles in one pass."""

from __future__ import annotations

import random

from digest.ranking import Profile, rank_for_all
from tests.digest.ranking.conftest import paper

ABSTRACT = ("We propose a sparse attention kernel for long-context language models that "
            "skips blocks of keys with low estimated scores, cutting prefill latency.")  # fmt: skip


def _ids(picks):
    return [p.arxiv_id for p in picks]


def _with_near_duplicates():
    return [
        paper("v1", "Block-sparse attention for long context", ABSTRACT, upvotes=90),
        paper("v2", "Block sparse attention for long contexts", ABSTRACT + " Code released.",
              upvotes=80),
        paper("other", "Sparse attention in vision transformers",
              "Sparse attention over image patches speeds up vision transformers.", upvotes=5),
        paper("far", "Weather forecasting with graph networks", "Graphs forecast rain.",
              upvotes=1),
    ]  # fmt: skip


def test_it_never_puts_two_near_duplicates_in_one_email():
    profile = Profile(key=1, interests=("sparse attention", "long context"), k=3)
    (picks,) = rank_for_all(_with_near_duplicates(), [profile])
    ids = _ids(picks)
    assert "v1" in ids and "v2" not in ids
    assert len(ids) == 3


def test_it_skips_a_near_duplicate_even_for_an_empty_profile():
    (picks,) = rank_for_all(_with_near_duplicates(), [Profile(key=1, k=2)])
    assert _ids(picks) == ["v1", "other"]


def test_it_prefers_a_different_topic_over_a_similar_paper_with_diversity():
    papers = [
        paper("a", "Diffusion models for video", "Video diffusion models generate clips.",
              upvotes=100),
        paper("b", "Diffusion models for video editing",
              "Video diffusion models edit clips with text prompts.", upvotes=99),
        paper("c", "Graph networks for chemistry", "Molecules as graphs.", upvotes=90),
    ]  # fmt: skip
    profile = Profile(key=1, k=2)
    assert _ids(rank_for_all(papers, [profile], weights={"diversity": 0.0})[0]) == ["a", "b"]
    assert _ids(rank_for_all(papers, [profile], weights={"diversity": 1.0})[0]) == ["a", "c"]


def test_it_never_sends_an_excluded_paper_again(day):
    sent = frozenset({"2607.00002", "2607.00003"})
    (picks,) = rank_for_all(day, [Profile(key=1, exclude=sent, k=10)])
    assert sent.isdisjoint(_ids(picks))
    assert len(picks) == len(day) - 2


def test_it_does_not_send_a_paper_the_subscriber_already_judged(day):
    profile = Profile(key=1, liked=("2607.00002",), disliked=("2607.00005",), k=10)
    (picks,) = rank_for_all(day, [profile])
    assert {"2607.00002", "2607.00005"}.isdisjoint(_ids(picks))


def test_it_returns_at_most_k_picks_best_first(day):
    results = rank_for_all(day, [Profile(key=1, k=2), Profile(key=2, k=0), Profile(key=3, k=50)])
    assert [len(r) for r in results] == [2, 0, len(day)]
    scores = [p.score for p in results[2]]
    assert scores == sorted(scores, reverse=True)


def test_it_returns_empty_lists_when_there_is_nothing_to_rank(day):
    assert rank_for_all([], [Profile(key=1)]) == [[]]
    assert rank_for_all(day, []) == []


def test_it_ranks_each_profile_in_a_batch_as_it_would_alone(day):
    rng = random.Random(5)
    phrases = ["video", "diffusion", "retrieval augmented generation", "robot", "speech", "protein"]
    ids = [p.arxiv_id for p in day]
    profiles = [
        Profile(
            key=i,
            interests=tuple(rng.sample(phrases, rng.randint(0, 3))),
            liked=tuple(rng.sample(ids, rng.randint(0, 2))),
            exclude=frozenset(rng.sample(ids, rng.randint(0, 2))),
            k=rng.choice([1, 3, 5]),
        )
        for i in range(40)
    ]
    together = rank_for_all(day, profiles)
    alone = [rank_for_all(day, [p])[0] for p in profiles]
    assert together == alone


def test_it_keeps_the_profiles_order_across_chunks(monkeypatch, day):
    monkeypatch.setattr("digest.ranking.profiles.CHUNK_ROWS", 3)
    profiles = [Profile(key=i, interests=(("video",), ("robot",))[i % 2], k=1) for i in range(10)]
    results = rank_for_all(day, profiles)
    assert [r[0].arxiv_id for r in results] == ["2607.00002", "2607.00005"] * 5
