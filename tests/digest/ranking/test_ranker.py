"""The Ranker API: per-day work once, many calls, picks as columns."""

from __future__ import annotations

import random

import numpy as np
import pytest

from digest.ranking import Profile, Ranker, rank_columns, rank_for_all
from digest.ranking import corpus as ranking_corpus


def _random_profiles(papers, n, seed, *, spellings=()):
    rng = random.Random(seed)
    phrases = sorted({k.lower() for p in papers for k in p.ai_keywords}) + list(spellings)
    ids = [p.arxiv_id for p in papers]
    authors = sorted({a for p in papers for a in p.authors})
    return [
        Profile(
            key=i,
            interests=tuple(rng.sample(phrases, rng.randint(0, 6))),
            liked=tuple(rng.sample(ids, rng.randint(0, 4))),
            disliked=tuple(rng.sample(ids, rng.choice([0, 0, 1]))),
            authors=tuple(rng.sample(authors, 1)) if rng.random() < 0.1 else (),
            exclude=frozenset(rng.sample(ids, rng.randint(0, 3))),
            k=rng.choice([1, 3, 5, 10, 20]),
        )
        for i in range(n)
    ]


def _as_tuples(results):
    return [[(p.arxiv_id, p.score, p.reason, p.reasons) for p in picks] for picks in results]


def test_it_ranks_in_batches_exactly_as_in_one_call(monkeypatch, real_papers):
    # Small chunks, so that profiles of several k meet at chunk boundaries.
    monkeypatch.setattr("digest.ranking.profiles.CHUNK_ROWS", 7)
    profiles = _random_profiles(real_papers, 120, seed=1)
    ranker = Ranker(real_papers)
    batched = []
    for start in range(0, len(profiles), 25):
        batched += ranker.rank(profiles[start : start + 25])
    assert batched == rank_for_all(real_papers, profiles)
    assert batched[:10] == [rank_for_all(real_papers, [p])[0] for p in profiles[:10]]


def test_it_gives_the_same_picks_as_columns_and_as_objects(real_papers):
    profiles = _random_profiles(real_papers, 60, seed=2)
    ranker = Ranker(real_papers)
    columns = ranker.rank_columns(profiles)
    assert columns.picks(real_papers) == ranker.rank(profiles)
    assert columns.offsets.dtype == np.int64 and len(columns.offsets) == 61
    assert columns.paper.dtype == np.int32 and columns.reason.dtype == np.int32
    assert columns.score.dtype == np.float32
    assert len(set(columns.reason_texts)) == len(columns.reason_texts)
    assert columns.reason_texts == ["; ".join(parts) for parts in columns.reason_parts]
    assert rank_columns(real_papers, profiles).picks(real_papers) == ranker.rank(profiles)


def test_it_indexes_the_candidates_as_given(day):
    # A paper listed twice counts once; its first position is the one reported.
    candidates = [*day, day[1]]
    columns = Ranker(candidates).rank_columns([Profile(key=1, interests=("video",), k=1)])
    assert columns.offsets.tolist() == [0, 1]
    assert candidates[columns.paper[0]].arxiv_id == "2607.00002"
    assert columns.paper[0] == 1


def test_it_does_the_per_day_work_once(monkeypatch, real_papers):
    calls = {"corpus": 0, "phrases": 0}
    corpus, count = ranking_corpus.Corpus.__init__, ranking_corpus.count_phrases

    def counting_corpus(self, *args):
        calls["corpus"] += 1
        corpus(self, *args)

    def counting_phrases(fields, vocabulary, starts):
        calls["phrases"] += len(vocabulary)
        return count(fields, vocabulary, starts)

    monkeypatch.setattr(ranking_corpus.Corpus, "__init__", counting_corpus)
    monkeypatch.setattr(ranking_corpus, "count_phrases", counting_phrases)
    ranker = Ranker(real_papers)
    ranker.rank([Profile(key=1, interests=("diffusion", "agents"))])
    after_first = calls["phrases"]
    ranker.rank([Profile(key=2, interests=("Diffusion", "agent"))])  # same phrases again
    assert calls == {"corpus": 1, "phrases": after_first}
    ranker.rank([Profile(key=3, interests=("robot",))])
    assert calls["phrases"] == after_first + len(real_papers)  # one new phrase, every paper


def test_it_quotes_each_subscriber_in_their_own_spelling(day):
    one = Profile(key=1, interests=("Retrieval-Augmented Generation",), k=1)
    two = Profile(key=2, interests=("retrieval augmented generations",), k=1)
    (a,), (b,) = rank_for_all(day, [one, two])
    assert a.arxiv_id == b.arxiv_id == "2607.00001"
    assert a.reasons[0] == "matches 'Retrieval-Augmented Generation'"
    assert b.reasons[0] == "matches 'retrieval augmented generations'"


@pytest.mark.parametrize("threads", [1, 2])
def test_it_gives_the_same_result_with_or_without_threads(monkeypatch, real_papers, threads):
    monkeypatch.setattr("digest.ranking.profiles.CHUNK_ROWS", 5)
    profiles = _random_profiles(real_papers, 40, seed=3)
    monkeypatch.setattr("digest.ranking.ranker.THREADS", 1)
    alone = _as_tuples(rank_for_all(real_papers, profiles))
    monkeypatch.setattr("digest.ranking.ranker.THREADS", threads)
    assert _as_tuples(rank_for_all(real_papers, profiles)) == alone


def test_it_returns_empty_columns_without_candidates_or_profiles(day):
    empty = Ranker([]).rank_columns([Profile(key=1), Profile(key=2)])
    assert empty.offsets.tolist() == [0, 0, 0]
    assert empty.picks([]) == [[], []]
    assert Ranker(day).rank([]) == []
    assert Ranker(day).rank_columns([]).offsets.tolist() == [0]
