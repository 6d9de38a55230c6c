"""Speed and memory of rank_for_all for many synthetic subscribers over real papers.

Each size runs in a fresh subprocess so its peak RSS is its own. Timed: one call of
rank_for_all (building the profile matrix, all signals, MMR, reasons and Pick objects).
Not timed: loading the papers and generating the synthetic profiles.

    .venv/bin/python bench/rank_speed.py                     # 1k, 10k, 100k; 3 runs each
    .venv/bin/python bench/rank_speed.py --sizes 1000 --runs 1 --svm 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._papers import DATA_DIR, load_papers
from digest.ranking import Candidate, Profile, rank_for_all

CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO", "stat.ML", "cs.IR", "cs.SD", "eess.AS"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per size (median)")
    parser.add_argument("--papers", type=int, default=300)
    parser.add_argument("--svm", type=int, default=200, help="subscribers for the SVM baseline")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(args.child, args.papers, args.seed, args.data_dir)))
        return
    _parent(args)


def _parent(args: argparse.Namespace) -> None:
    print(f"rank_for_all, {args.papers} real papers, median of {args.runs} fresh processes")
    print(f"{'subscribers':>12} {'wall s':>7} {'CPU s':>6} {'CPU ms/1k subs':>15} "
          f"{'peak RSS MB':>12} {'RSS before MB':>14} {'picks':>10} {'load avg':>9}")  # fmt: skip
    for size in args.sizes:
        runs = [_spawn(size, seed, args) for seed in range(args.runs)]

        def median(key: str, runs: list[dict] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(f"{size:>12,} {median('wall'):>7.2f} {median('cpu'):>6.2f} "
              f"{1e6 * median('cpu') / size:>15.1f} {median('peak_mb'):>12.0f} "
              f"{median('before_mb'):>14.0f} {runs[0]['picks']:>10,} {median('load'):>9.1f}")  # fmt: skip
    if args.svm:
        per_sub = _svm_seconds_per_subscriber(args.svm, args.papers, args.data_dir)
        print(
            f"\nper-user LinearSVC on tf-idf (arxiv-sanity-lite style), {args.svm} subscribers: "
            f"{1000 * per_sub:.1f} ms per subscriber -> 100,000 subscribers ~ "
            f"{per_sub * 100_000 / 60:.0f} min on one core"
        )


def _spawn(size: int, seed: int, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        str(size),
        "--seed",
        str(seed),
        "--papers",
        str(args.papers),
        "--data-dir",
        str(args.data_dir),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(size: int, n_papers: int, seed: int, data_dir: Path) -> dict:
    papers, pool = world(n_papers, data_dir)
    profiles = synthetic_profiles(size, papers, pool, random.Random(seed))
    before = _rss_now_mb()
    start, cpu = time.perf_counter(), time.process_time()
    result = rank_for_all(papers, profiles, reference=pool)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall": wall,
        "cpu": cpu,
        "load": os.getloadavg()[0],
        "peak_mb": peak,
        "before_mb": before,
        "picks": sum(map(len, result)),
    }


def world(n_papers: int, data_dir: Path) -> tuple[list[Candidate], list[Candidate]]:
    """Today's papers (real text, synthetic categories) and the catalogue they can like."""
    real = [p.candidate for p in load_papers(data_dir)]
    rng = random.Random(42)
    with_categories = [
        Candidate(
            c.arxiv_id,
            c.title,
            c.abstract,
            c.authors,
            c.ai_keywords,
            tuple(rng.sample(CATEGORIES, rng.randint(1, 3))),
            c.upvotes,
            c.age_days,
        )
        for c in real
    ]
    return with_categories[:n_papers], with_categories


def synthetic_profiles(
    size: int, papers: list[Candidate], pool: list[Candidate], rng: random.Random
) -> list[Profile]:
    """Realistic profiles: 3-10 phrases, 0-20 liked papers, a few dislikes and follows."""
    phrases = sorted({k.lower() for c in pool for k in c.ai_keywords})
    # Popular topics are chosen far more often than rare ones (Zipf-like).
    phrase_weights = [1 / (i + 1) ** 0.7 for i in range(len(phrases))]
    rng.shuffle(phrases)
    ids = [c.arxiv_id for c in pool]
    today = [c.arxiv_id for c in papers]
    authors = sorted({a for c in pool for a in c.authors})
    profiles = []
    for key in range(size):
        follows = rng.sample(authors, rng.randint(1, 3)) if rng.random() < 0.05 else []
        sent = rng.sample(today, rng.randint(0, 30)) if rng.random() < 0.2 else []
        profiles.append(
            Profile(
                key=key,
                interests=tuple(set(rng.choices(phrases, phrase_weights, k=rng.randint(3, 10)))),
                categories=tuple(rng.sample(CATEGORIES, rng.randint(0, 3))),
                liked=tuple(rng.sample(ids, rng.randint(0, 20))),
                disliked=tuple(rng.sample(ids, rng.choice([0, 0, 0, 1, 2, 3]))),
                authors=tuple(follows),
                exclude=frozenset(sent),
                k=rng.choices([5, 10, 20], [0.2, 0.6, 0.2])[0],
            )
        )
    return profiles


def _rss_now_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _svm_seconds_per_subscriber(n_subs: int, n_papers: int, data_dir: Path) -> float:
    from bench.rank_quality import SvmRanker

    papers, pool = world(n_papers, data_dir)
    profiles = synthetic_profiles(n_subs, papers, pool, random.Random(7))
    start = time.perf_counter()
    ranker = SvmRanker(pool)
    for profile in profiles:
        ranker.rank(profile.liked, [c.arxiv_id for c in papers], profile.k)
    return (time.perf_counter() - start) / n_subs


if __name__ == "__main__":
    main()
