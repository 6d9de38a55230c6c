"""Speed and memory of the ranker for many synthetic subscribers over real papers.

Each size and mode runs in fresh subprocesses so its peak RSS is its own. Timed: the
per-day work (Ranker(...)) plus ranking every profile, in one of three modes:
``columns`` (one Ranker.rank_columns call: arrays, what the digest build uses),
``rank`` (one Ranker.rank call, with the Pick objects: rank_for_all) and ``batches``
(rank_columns on batches of --batch profiles from one Ranker; each batch's profiles are
made just before it, so the process holds one batch, as the digest build does). Not
timed: loading the papers and generating the synthetic profiles.

    .venv/bin/python bench/rank_speed.py                     # 1k, 10k, 100k; 3 runs each
    .venv/bin/python bench/rank_speed.py --sizes 1000 --runs 1 --svm 50 --modes rank
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
from digest.ranking import Candidate, Profile, Ranker
from digest.ranking import semantic as ranking_semantic

MODES = {
    "columns": "Ranker.rank_columns (arrays)",
    "rank": "Ranker.rank (Pick objects)",
    "batches": "rank_columns in batches",
}

# "today": the ranker before issue #16 (no embedding signal, no taste model).
RANKERS: dict[str, dict[str, float] | None] = {
    "default": None,
    "today": {"semantic": 0.0, "taste": 0.0, "with_likes": 0.0},
}

CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO", "stat.ML", "cs.IR", "cs.SD", "eess.AS"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per size (median)")
    parser.add_argument("--papers", type=int, default=300)
    parser.add_argument("--svm", type=int, default=200, help="subscribers for the SVM baseline")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--batch", type=int, default=5_000, help="profiles per call (batches)")
    parser.add_argument(
        "--rankers", nargs="+", choices=list(RANKERS), default=["default"],
        help="default: every signal (taste model + WordLlama semantic); today: as before #16",
    )  # fmt: skip
    parser.add_argument(
        "--ranker", choices=list(RANKERS), default="default", help=argparse.SUPPRESS
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=list(MODES), default="rank", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(args.child, args.papers, args.seed, args.data_dir, args)))
        return
    _parent(args)


def _parent(args: argparse.Namespace) -> None:
    print(f"{args.papers} real papers, median of {args.runs} fresh processes; "
          f"batches of {args.batch:,}; load average before: {_loadavg()}")  # fmt: skip
    print(f"{'mode, ranker':<38} {'subscribers':>11} {'wall s':>7} {'CPU s':>6} {'day wall s':>14} "
          f"{'CPU ms/1k subs':>14} {'peak RSS MB':>11} {'RSS before MB':>13} {'picks':>10} "
          f"{'load':>5} {'embed s':>7}")  # fmt: skip
    for size in args.sizes:
        for mode, ranker in [(m, r) for m in args.modes for r in args.rankers]:
            args.mode, args.ranker = mode, ranker
            # Interleaved: run i of every ranker before run i + 1 of any (noisy machine).
            runs = [_spawn(size, seed, args) for seed in range(args.runs)]

            def median(key: str, runs: list[dict] = runs) -> float:
                return statistics.median(r[key] for r in runs)

            print(f"{MODES[mode] + ' ' + ranker:<38} {size:>11,} {median('wall'):>7.2f} {median('cpu'):>6.2f} "
                  f"{median('day'):>14.2f} {1e6 * median('cpu') / size:>14.1f} "
                  f"{median('peak_mb'):>11.0f} {median('before_mb'):>13.0f} "
                  f"{runs[0]['picks']:>10,} {median('load'):>5.1f} {median('embed'):>7.2f}")  # fmt: skip
    print(f"load average after: {_loadavg()}")
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
        "--mode",
        args.mode,
        "--batch",
        str(args.batch),
        "--ranker",
        args.ranker,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(size: int, n_papers: int, seed: int, data_dir: Path, args: argparse.Namespace) -> dict:
    papers, pool = world(n_papers, data_dir)
    maker = ProfileMaker(papers, pool, random.Random(seed))
    # batches: each batch's profiles are made just before it is ranked (not timed), as the
    # digest build reads its readers per batch; the other modes hold every profile.
    profiles = [] if args.mode == "batches" else maker.make(0, size)
    if args.ranker == "default":
        # The paper vectors are computed once per paper and stored (PaperEmbedding): a
        # build reads them. Embedding a day's papers is timed apart (embed_s).
        t0 = time.perf_counter()
        ranking_semantic.paper_vectors([*papers, *pool])
        embed = time.perf_counter() - t0
    else:
        embed = 0.0
    before = _rss_now_mb()
    start, cpu = time.perf_counter(), time.process_time()
    ranker = Ranker(papers, reference=pool, weights=RANKERS[args.ranker])
    day = time.perf_counter() - start
    if args.mode == "rank":
        picks = sum(map(len, ranker.rank(profiles)))
    elif args.mode == "columns":
        picks = len(ranker.rank_columns(profiles).paper)
    else:
        picks, untimed_wall, untimed_cpu = 0, 0.0, 0.0
        for first in range(0, size, args.batch):
            t0, c0 = time.perf_counter(), time.process_time()
            batch = maker.make(first, min(args.batch, size - first))
            untimed_wall += time.perf_counter() - t0
            untimed_cpu += time.process_time() - c0
            picks += len(ranker.rank_columns(batch).paper)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if args.mode == "batches":
        wall, cpu = wall - untimed_wall, cpu - untimed_cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall": wall,
        "cpu": cpu,
        "day": day,
        "load": os.getloadavg()[0],
        "peak_mb": peak,
        "before_mb": before,
        "picks": picks,
        "embed": embed,
    }


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


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
    return ProfileMaker(papers, pool, rng).make(0, size)


class ProfileMaker:
    """synthetic_profiles in pieces: make(0, n) then make(n, m) gives the profiles that
    one make(0, n + m) gives (the same random draws in the same order)."""

    def __init__(self, papers: list[Candidate], pool: list[Candidate], rng: random.Random) -> None:
        self.rng = rng
        phrases = sorted({k.lower() for c in pool for k in c.ai_keywords})
        # Popular topics are chosen far more often than rare ones (Zipf-like).
        self.phrase_weights = [1 / (i + 1) ** 0.7 for i in range(len(phrases))]
        rng.shuffle(phrases)
        self.phrases = phrases
        self.ids = [c.arxiv_id for c in pool]
        self.today = [c.arxiv_id for c in papers]
        self.authors = sorted({a for c in pool for a in c.authors})

    def make(self, start: int, count: int) -> list[Profile]:
        rng, phrases, ids = self.rng, self.phrases, self.ids
        profiles = []
        for key in range(start, start + count):
            follows = rng.sample(self.authors, rng.randint(1, 3)) if rng.random() < 0.05 else []
            sent = rng.sample(self.today, rng.randint(0, 30)) if rng.random() < 0.2 else []
            profiles.append(
                Profile(
                    key=key,
                    interests=tuple(
                        set(rng.choices(phrases, self.phrase_weights, k=rng.randint(3, 10)))
                    ),
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
