"""Each signal of the ranker, on a small hand-made day of papers."""

from __future__ import annotations

from digest.ranking import DEFAULT_WEIGHTS, Profile, rank_for_all, resolve_weights
from tests.digest.ranking.conftest import paper

ONLY_KEYWORDS = {
    "liked": 0, "disliked": 0, "categories": 0, "popularity": 0, "semantic": 0, "taste": 0
}  # fmt: skip


def _ids(picks):
    return [p.arxiv_id for p in picks]


def test_it_gives_an_empty_profile_the_most_upvoted_papers(day):
    (picks,) = rank_for_all(day, [Profile(key=1, k=3)])
    assert _ids(picks) == ["2607.00002", "2607.00003", "2607.00005"]
    assert picks[0].reason == "trending: 212 upvotes"


def test_it_matches_a_phrase_with_hyphens_and_plurals_but_not_scattered_words(day):
    profile = Profile(key=1, interests=("retrieval augmented generation",), k=6)
    (picks,) = rank_for_all(day, [profile], weights=ONLY_KEYWORDS)
    scores = {p.arxiv_id: p.score for p in picks}
    assert _ids(picks)[0] == "2607.00001"
    assert scores["2607.00001"] > 0.5
    # "Generation ... augmented by graph retrieval" has the words, not the phrase.
    assert scores["2607.00004"] == 0.0


def test_it_ranks_a_keyword_match_above_a_more_popular_paper(day):
    (picks,) = rank_for_all(day, [Profile(key=1, interests=("protein folding",), k=2)])
    assert _ids(picks) == ["2607.00006", "2607.00002"]


def test_it_scores_more_matched_phrases_higher(day):
    one = Profile(key=1, interests=("video",), k=1)
    two = Profile(key=2, interests=("video", "latent diffusion"), k=1)
    (a,), (b,) = rank_for_all(day, [one, two], weights=ONLY_KEYWORDS)
    assert a.arxiv_id == b.arxiv_id == "2607.00002"
    assert b.score > a.score


def test_it_ranks_papers_similar_to_a_liked_one_first(real_papers):
    liked = "2606.31315"  # BlockPilot: diffusion-based speculative decoding, 64 upvotes
    (before,) = rank_for_all(real_papers, [Profile(key=1, k=5)])
    (after,) = rank_for_all(real_papers, [Profile(key=1, liked=(liked,), k=5)])
    assert "2607.05147" not in _ids(before)  # DSpark: speculative decoding, 9 upvotes
    assert _ids(after)[0] == "2607.05147"
    assert after[0].reason.startswith("similar to 'BlockPilot: Instance-Adaptive Policy")


def test_it_uses_reference_papers_for_likes_that_are_not_today():
    liked = paper("old", "Gaussian splatting for dynamic scenes",
                  "We fit 3D Gaussian splatting to dynamic scenes in real time.")  # fmt: skip
    papers = [
        paper("x", "Mobile Gaussian splatting", "Real-time 3D Gaussian splatting on phones."),
        paper("y", "Tabular learning benchmarks", "We compare tree models on tables.", upvotes=9),
    ]
    profile = Profile(key=1, liked=("old",), k=1)
    assert _ids(rank_for_all(papers, [profile])[0]) == ["y"]  # liked text unknown: popularity
    assert _ids(rank_for_all(papers, [profile], reference=[liked])[0]) == ["x"]


def test_it_pushes_papers_like_a_disliked_one_down(day):
    disliked = paper("old", "Video diffusion models for long videos",
                     "A latent diffusion model generates videos from text.")  # fmt: skip
    (before,) = rank_for_all(day, [Profile(key=1, k=6)])
    (after,) = rank_for_all(day, [Profile(key=1, disliked=("old",), k=6)], reference=[disliked])
    assert _ids(before)[0] == "2607.00002"
    assert _ids(after)[-1] == "2607.00002"


def test_it_boosts_papers_in_the_subscribers_categories():
    papers = [
        paper("a", "Popular vision paper", upvotes=100, categories=("cs.CV",)),
        paper("b", "Quiet language paper", upvotes=10, categories=("cs.CL", "cs.AI")),
    ]
    (picks,) = rank_for_all(papers, [Profile(key=1, categories=("cs.cl",), k=2)])
    assert _ids(picks) == ["b", "a"]
    assert picks[0].reason == "in cs.CL"


def test_it_always_includes_a_followed_authors_paper():
    papers = [paper(f"p{i}", f"Popular paper {i}", upvotes=100 + i) for i in range(5)]
    papers.append(paper("mine", "An obscure workshop note", authors=("Ada Lovelace",)))
    profile = Profile(key=1, interests=("popular paper",), authors=("ada  lovelace",), k=2)
    (picks,) = rank_for_all(papers, [profile])
    assert "mine" in _ids(picks)
    (mine,) = [p for p in picks if p.arxiv_id == "mine"]
    assert mine.reasons[0] == "by Ada Lovelace, whom you follow"


def test_it_prefers_recent_papers_when_upvotes_are_equal():
    papers = [paper("old", "Old", upvotes=50, age_days=6), paper("new", "New", upvotes=50)]
    (picks,) = rank_for_all(papers, [Profile(key=1, k=2)])
    assert _ids(picks) == ["new", "old"]


def test_it_reads_the_weights_from_settings_when_none_are_given(settings, day):
    settings.DIGEST_RANKING_WEIGHTS = {**DEFAULT_WEIGHTS, "popularity": 0.0, "keywords": 2.0}
    assert resolve_weights(None)["keywords"] == 2.0
    (picks,) = rank_for_all(day, [Profile(key=1, k=1)])
    assert picks[0].score == 0.0  # no popularity prior left
    assert resolve_weights({"liked": 0.1})["keywords"] == DEFAULT_WEIGHTS["keywords"]
