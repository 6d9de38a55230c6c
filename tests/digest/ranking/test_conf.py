"""digest/ranking/conf.py: BLAS stays on one thread while the ranker ranks."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits

from digest.ranking import Profile, Ranker
from digest.ranking import ranker as ranker_module
from tests.digest.ranking.conftest import paper


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_ranking_runs_with_one_blas_thread_and_gives_the_others_back(monkeypatch):
    seen: list[set[int]] = []
    rank = ranker_module._rank

    def spying_rank(*args, **kwargs):
        seen.append(_blas_threads())
        return rank(*args, **kwargs)

    monkeypatch.setattr(ranker_module, "_rank", spying_rank)
    day = [paper("a", "Glaciers", "Ice sheets."), paper("b", "Violins", "Strings.")]
    with threadpool_limits(limits=2, user_api="blas"):
        Ranker(day).rank_columns([Profile(key=1, k=1)])
        assert _blas_threads() == {2}
    assert seen == [{1}]
