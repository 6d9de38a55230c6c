"""The short human reasons that come with each pick."""

from __future__ import annotations

from digest.ranking import Profile, rank_for_all
from digest.ranking.reasons import MAX_REASON_PARTS
from tests.digest.ranking.conftest import paper


def _pick(papers, profile, arxiv_id, **kwargs):
    (picks,) = rank_for_all(papers, [profile], **kwargs)
    return next(p for p in picks if p.arxiv_id == arxiv_id)


def test_it_quotes_the_two_phrases_that_weigh_most_in_the_paper(day):
    # "Video" is in the title and the abstract, "latent diffusion" only in the abstract.
    profile = Profile(key=1, interests=("Video", "latent diffusion", "robots", "policy"), k=1)
    pick = _pick(day, profile, "2607.00002")
    assert pick.reasons[0] == "matches 'Video', 'latent diffusion'"


def test_it_says_trending_with_the_upvotes_for_a_popular_match(day):
    pick = _pick(day, Profile(key=1, interests=("video",), k=1), "2607.00002")
    assert pick.reason == "matches 'video'; trending: 212 upvotes"


def test_it_explains_a_pick_with_nothing_else_by_its_upvotes(day):
    (picks,) = rank_for_all(day, [Profile(key=1, interests=("video",), k=6)])
    assert picks[-1].reason == "trending: 3 upvotes"
    one_vote = [paper("a", "A", upvotes=1), paper("b", "B")]
    (picks,) = rank_for_all(one_vote, [Profile(key=1, k=2)])
    assert [p.reason for p in picks] == ["trending: 1 upvote", "new: no upvotes yet"]


def test_it_names_the_liked_paper_shortened():
    liked = paper(
        "old",
        "Speculative decoding with adaptive draft trees for very large "
        "language models in production",
        "Draft trees of speculative tokens.",
    )
    papers = [
        paper(
            "new",
            "Adaptive draft trees for speculative decoding",
            "Speculative tokens in draft trees, verified by the target model.",
        )
    ]
    pick = _pick(papers, Profile(key=1, liked=("old",)), "new", reference=[liked])
    assert pick.reason == (
        "similar to 'Speculative decoding with adaptive draft trees…', which you liked"
    )  # fmt: skip


def test_it_puts_the_followed_author_first_and_keeps_at_most_three_parts():
    papers = [
        paper("x", "Video diffusion for robots", "Video diffusion models plan robot motion.",
              authors=("Grace Hopper",), categories=("cs.RO",), upvotes=500),
        paper("y", "Something else", upvotes=1),
    ]  # fmt: skip
    profile = Profile(
        key=1, interests=("video diffusion",), categories=("cs.RO",), authors=("Grace Hopper",)
    )
    pick = _pick(papers, profile, "x")
    assert len(pick.reasons) == MAX_REASON_PARTS
    assert pick.reasons == (
        "by Grace Hopper, whom you follow",
        "matches 'video diffusion'",
        "in cs.RO",
    )
    assert pick.reason == "; ".join(pick.reasons)
