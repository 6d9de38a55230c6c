"""The ranker gives exactly the picks, scores and reasons recorded before the signal table
(issue #12): tests/fixtures/ranking/expected_picks.json, made by the ranker of then."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from digest.ranking import Candidate, Profile, Ranker
from digest.ranking import semantic as ranking_semantic


def _hashed_words(texts: list[str]) -> np.ndarray:
    # A deterministic stand-in for the model: a hashed bag of words, unit length.
    out = np.zeros((len(texts), 32), np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(".", " ").replace(",", " ").split():
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 32] += 1
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1)


@pytest.fixture
def recorded(fixtures_dir) -> dict[str, Any]:
    path = fixtures_dir / "ranking" / "expected_picks.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _papers(real_papers: list[Candidate], recorded: dict[str, Any]) -> list[Candidate]:
    return [
        replace(p, categories=tuple(cats), age_days=age)
        for p, cats, age in zip(
            real_papers, recorded["categories"], recorded["age_days"], strict=True
        )
    ]


def _profile(row: dict[str, Any]) -> Profile:
    fields = {k: tuple(v) for k, v in row.items() if k not in ("key", "k", "exclude")}
    return Profile(key=row["key"], k=row["k"], exclude=frozenset(row["exclude"]), **fields)


# The cases were recorded before issue #16 (no taste signal, semantic weight 0.5, the
# same weights for every reader).
WEIGHTS_OF_THEN = {"semantic": 0.5, "taste": 0.0, "with_likes": 0.0}


def _case(settings, real_papers, recorded, case: str) -> tuple[dict, list, dict[str, float]]:
    """A recorded case's spec, its papers and its weights, with its semantic setting on."""
    (spec,) = [c for c in recorded["cases"] if c["name"] == case]
    settings.DIGEST_SEMANTIC = spec["semantic"]
    if spec["semantic"]:
        ranking_semantic.use_encoder(_hashed_words, name="hashed")
    papers = _papers(real_papers, recorded)
    return spec, papers, {**WEIGHTS_OF_THEN, **(spec["weights"] or {})}


@pytest.mark.parametrize("case", ["lexical", "semantic", "custom_weights"])
def test_it_gives_the_recorded_picks(settings, real_papers, recorded, case):
    spec, papers, weights = _case(settings, real_papers, recorded, case)
    ranker = Ranker(papers[:34], reference=papers[34:], weights=weights)
    profiles = [_profile(row) for row in spec["profiles"]]
    columns = ranker.rank_columns(profiles)
    exact = columns.score.tolist()
    got = [
        [[p.arxiv_id, p.score, exact[int(columns.offsets[i]) + j], p.reason, list(p.reasons)]
         for j, p in enumerate(picks)]
        for i, picks in enumerate(ranker.rank(profiles))
    ]  # fmt: skip
    # The unrounded float32 score may differ in its last digits between numpy/BLAS builds
    # (0.38989338 vs 0.38989335 seen with numpy 2.4); everything else must be identical.
    exact_got = [[pick.pop(2) for pick in picks] for picks in got]
    expected = [[list(pick) for pick in picks] for picks in spec["expected"]]
    exact_expected = [[pick.pop(2) for pick in picks] for picks in expected]
    # Since issue #16 "close to your interests" is said only to readers who typed some
    # (which leaves room for another part): for the others, same picks and scores, and
    # their reasons never claim interests they have not got.
    for row, picks_got, picks_expected in zip(spec["profiles"], got, expected, strict=True):
        if not row["interests"]:
            for pick in picks_got:
                assert "close to your interests" not in pick[3]
            picks_got[:] = [pick[:2] for pick in picks_got]
            picks_expected[:] = [pick[:2] for pick in picks_expected]
    assert got == expected
    for picks_got, picks_expected in zip(exact_got, exact_expected, strict=True):
        assert picks_got == pytest.approx(picks_expected, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("case", ["lexical", "semantic", "custom_weights"])
def test_readers_without_likes_rank_as_before_the_taste_model(
    settings, real_papers, recorded, case
):
    spec, papers, weights = _case(settings, real_papers, recorded, case)
    rows = [(i, row) for i, row in enumerate(spec["profiles"]) if not row["liked"]]
    assert rows  # the recorded cases have such readers
    # Ranked with readers who have likes (so the taste signal is on in the call).
    profiles = [_profile(row) for row in spec["profiles"]]
    # And with the weights of readers with likes on: they are those readers' own.
    with_taste = Ranker(
        papers[:34], reference=papers[34:], weights={**weights, "taste": 2.0, "with_likes": 1.0}
    )
    got = with_taste.rank(profiles)
    for i, _ in rows:
        expected = spec["expected"][i]
        assert [[p.arxiv_id, p.score, p.reason] for p in got[i]] == [
            e[:2] + e[3:4] for e in expected
        ]
