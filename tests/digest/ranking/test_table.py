"""The signal table itself: the blend, the selection and the reasons are generic over it."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from config.settings import base as base_settings
from digest.ranking import DEFAULT_WEIGHTS, Profile, rank_for_all
from digest.ranking.profiles import Chunk, ProfileArrays
from digest.ranking.ranker import blend
from digest.ranking.reasons import Picked, ReasonPart
from digest.ranking.signals import REASON_ORDER, SIGNALS, Signal, always

PROTEIN = "2607.00006"


def _protein(chunk: Chunk) -> np.ndarray:
    # A made-up signal: every reader likes the protein paper.
    ids = [d.arxiv_id for d in chunk.day.corpus.docs[: chunk.day.corpus.n]]
    return np.tile(np.array([i == PROTEIN for i in ids], np.float32), (len(chunk.rows), 1))


def _protein_code(picked: Picked, before: dict[str, np.ndarray]) -> np.ndarray:
    return np.where(picked.value("protein") > 0, 0, -1)


def _protein_word(profiles: ProfileArrays, code: int) -> str:
    return "about proteins"


PROTEIN_SIGNAL = Signal(
    "protein", 1.0, always(_protein), reason=ReasonPart(_protein_code, _protein_word, lambda _: 1)
)


@pytest.fixture
def with_protein(monkeypatch):
    monkeypatch.setattr("digest.ranking.ranker.SIGNALS", (*SIGNALS, PROTEIN_SIGNAL))
    monkeypatch.setattr("digest.ranking.ranker.REASON_ORDER", ("protein", *REASON_ORDER))


def test_it_changes_nothing_with_a_new_signal_at_weight_0(monkeypatch, real_papers):
    profiles = [
        Profile(key=1, interests=("diffusion", "agents"), k=5),
        Profile(key=2, liked=(real_papers[0].arxiv_id,), k=10),
        Profile(key=3, k=3),
    ]
    before = rank_for_all(real_papers, profiles)
    silent = Signal("protein", 1.0, always(_protein))
    monkeypatch.setattr("digest.ranking.ranker.SIGNALS", (*SIGNALS, silent))
    assert rank_for_all(real_papers, profiles, weights={"protein": 0.0}) == before


def test_it_ranks_and_explains_with_a_new_signal(day, with_protein):
    (picks,) = rank_for_all(day, [Profile(key=1, k=1)], weights={"protein": 1.0})
    assert picks[0].arxiv_id == PROTEIN
    assert picks[0].reasons[0] == "about proteins"  # first in its REASON_ORDER


def test_it_blends_the_weighted_sum_over_the_table():
    rng = np.random.default_rng(0)
    signals = {s.name: rng.random((3, 5), dtype=np.float32) for s in SIGNALS}
    weights = {**DEFAULT_WEIGHTS, "categories": 0.0}
    expected = sum(s.sign * weights[s.name] * signals[s.name] for s in SIGNALS)
    got = blend(SIGNALS, signals, weights, (3, 5))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_it_skips_an_absent_signal_in_the_blend():
    ones = {s.name: np.ones((1, 2), np.float32) for s in SIGNALS if s.name != "semantic"}
    got = blend(SIGNALS, ones, DEFAULT_WEIGHTS, (1, 2))
    expected = sum(s.sign * DEFAULT_WEIGHTS[s.name] for s in SIGNALS if s.name != "semantic")
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_it_names_every_reason_part_once():
    with_reason = {s.name for s in SIGNALS if s.reason is not None}
    assert sorted(REASON_ORDER) == sorted(with_reason)
    assert len({s.name for s in SIGNALS}) == len(SIGNALS)
    assert [s.name for s in SIGNALS if s.sign < 0] == ["disliked"]


def test_it_keeps_one_definition_of_the_weights():
    assert {**{s.name: s.weight for s in SIGNALS}, "diversity": 0.5, "with_likes": 1.0} == (
        DEFAULT_WEIGHTS
    )
    assert list(DEFAULT_WEIGHTS) == base_settings.DIGEST_RANKING_WEIGHT_NAMES


def test_settings_hold_only_the_weights_set_in_the_environment(monkeypatch):
    for name in DEFAULT_WEIGHTS:
        monkeypatch.delenv(f"DIGEST_WEIGHT_{name.upper()}", raising=False)
    monkeypatch.setenv("DIGEST_WEIGHT_LIKED", "0.1")
    try:
        assert importlib.reload(base_settings).DIGEST_RANKING_WEIGHTS == {"liked": 0.1}
    finally:
        monkeypatch.undo()
        importlib.reload(base_settings)
