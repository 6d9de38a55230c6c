"""A minimal stand-in for digest/ranking_inputs.py (another engineer's, not there yet)
so the run tests and benchmarks exercise the real digest.ranking.rank_for_all. Does
nothing once the real module exists."""

from __future__ import annotations

import importlib.util
import sys
import types


def install_ranking_inputs_fallback() -> None:
    """Until digest/ranking_inputs.py lands (another engineer), a minimal stand-in so
    these tests exercise the real digest.ranking.rank_for_all."""
    if importlib.util.find_spec("digest.ranking_inputs") is not None:
        return
    from digest import ranking

    module = types.ModuleType("digest.ranking_inputs")

    def candidate_from_paper(paper, *, today):
        return ranking.Candidate(
            arxiv_id=paper.arxiv_id,
            title=paper.title,
            abstract=paper.abstract,
            authors=tuple(paper.authors or ()),
            categories=tuple(paper.categories or ()),
            upvotes=paper.upvotes,
        )

    def profiles_for_subscribers(subscribers, *, exclude=None):
        exclude = exclude or {}
        return [
            ranking.Profile(
                key=sub.pk,
                interests=tuple(x.strip() for x in sub.interests.split(",") if x.strip()),
                categories=tuple(sub.categories or ()),
                authors=tuple(sub.followed_authors or ()),
                exclude=frozenset(exclude.get(sub.pk, ())),
                k=sub.digest_size,
            )
            for sub in subscribers
        ]

    def reference_candidates(arxiv_ids, *, today):
        return []

    module.candidate_from_paper = candidate_from_paper
    module.profiles_for_subscribers = profiles_for_subscribers
    module.reference_candidates = reference_candidates
    sys.modules["digest.ranking_inputs"] = module
    import digest

    digest.ranking_inputs = module
