"""Ranking quality on the real Hugging Face daily papers: precision@10 and nDCG@10, two
protocols, each ranker against one baseline on exactly the same trials (paired).

1. liked papers only (the reader never typed an interest):
   - Groups: the papers whose ai_keywords contain a phrase as adjacent words (hyphens,
     case and plurals folded), for every phrase with at least MIN_GROUP_PAPERS papers.
   - One trial per (group, seed): the reader liked LIKED_ONLY_LIKES random papers of the
     group. Relevant: the group's other papers. Candidates: the pool (the papers with
     ai_keywords) minus the liked ones.
   - Baseline: arxiv-sanity-lite's per-user LinearSVC on tf-idf.
2. interests + likes (the protocol of issue #12):
   - Topic: a normalised ai_keyword that at least MIN_TOPIC_PAPERS papers carry.
   - One trial per (topic, seed): the reader liked SEEDS_PER_PROFILE random papers of the
     topic and wrote the topic as their interest. Relevant: the topic's other papers.
   - Baseline: keywords only (our phrase tf-idf).

In both, ai_keywords are removed from every paper before ranking (the labels come from
them). The paired standard error is the standard deviation of the per-trial differences
over the square root of the number of trials. Constants were tuned on the dev seeds;
the tables in docs/benchmarks.md are the test seeds, run once.

    .venv/bin/python bench/rank_quality.py              # test seeds
    .venv/bin/python bench/rank_quality.py --seeds dev  # dev seeds (for tuning)

"default" is the product's default ranker: every signal of the table with its default
weight, the embedding signals (semantic, taste) with WordLlama (DIGEST_SEMANTIC_MODEL's
default; the bench reads no Django settings).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._papers import DATA_DIR, load_papers
from digest.ranking import DEFAULT_WEIGHTS, Candidate, Profile, rank_for_all
from digest.ranking.text import phrase_key

K = 10
MIN_TOPIC_PAPERS = 6
SEEDS_PER_PROFILE = 3
MIN_GROUP_PAPERS = 10
LIKED_ONLY_LIKES = 5
DEV_SEEDS = range(0, 5)
TEST_SEEDS = range(100, 110)
LIKED_ONLY_DEV_SEEDS = range(0, 10)
LIKED_ONLY_TEST_SEEDS = range(100, 120)
# Every signal of the table off (the MMR's diversity is not a signal).
OFF = {name: 0.0 for name in DEFAULT_WEIGHTS if name != "diversity"}
# The ranker before issue #16: no embedding signal, no taste model.
LEXICAL = {**DEFAULT_WEIGHTS, "semantic": 0.0, "taste": 0.0, "with_likes": 0.0}


@dataclass(frozen=True)
class Query:
    topic: str
    liked: tuple[str, ...]
    liked_papers: list[Candidate]  # their text, for the similarity signals
    candidates: list[Candidate]
    relevant: frozenset[str]


Ranker = Callable[[Query], list[str]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", choices=["dev", "test"], default="test")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--protocol", choices=["liked", "interests", "both"], default="both")
    args = parser.parse_args()
    dev = args.seeds == "dev"
    papers = [p.candidate for p in load_papers(args.data_dir)]
    svm = SvmRanker(papers)
    if args.protocol in ("liked", "both"):
        groups = build_groups(papers)
        seeds = LIKED_ONLY_DEV_SEEDS if dev else LIKED_ONLY_TEST_SEEDS
        queries = [
            q for seed in seeds for q in build_queries(papers, groups, seed, LIKED_ONLY_LIKES)
        ]
        print(
            f"\nliked papers only: {len(groups)} groups x {len(seeds)} seeds ({args.seeds}) = "
            f"{len(queries)} trials, {LIKED_ONLY_LIKES} likes each; groups: "
            f"{', '.join(f'{t} ({len(ids)})' for t, ids in groups.items())}"
        )
        rankers: dict[str, Ranker] = {
            "per-user linear SVM on tf-idf (arxiv-sanity-lite)": lambda q: svm.rank(q.liked, _ids(q), K),
            "today's ranker (lexical: liked centroid + popularity)": lambda q: ours(q, LEXICAL, interests=False),
            "**default** (+ taste model + semantic, WordLlama)": lambda q: ours(q, DEFAULT_WEIGHTS, interests=False),
            "  default without the taste model": lambda q: ours(q, {**DEFAULT_WEIGHTS, "taste": 0.0}, interests=False),
            "  default without the semantic signal": lambda q: ours(q, {**DEFAULT_WEIGHTS, "semantic": 0.0}, interests=False),
            "  taste model only": lambda q: ours(q, {**OFF, "taste": 1.0, "popularity": 0.01}, interests=False),
        }  # fmt: skip
        report(rankers, queries)
    if args.protocol in ("interests", "both"):
        topics = build_topics(papers)
        seeds = DEV_SEEDS if dev else TEST_SEEDS
        queries = [
            q for seed in seeds for q in build_queries(papers, topics, seed, SEEDS_PER_PROFILE)
        ]
        print(
            f"\ninterests + likes: {len(topics)} topics x {len(seeds)} seeds ({args.seeds}) = "
            f"{len(queries)} trials, {SEEDS_PER_PROFILE} likes each; topics: "
            f"{', '.join(f'{t} ({len(ids)})' for t, ids in topics.items())}"
        )
        rankers = {
            "keywords only (phrase tf-idf)": lambda q: ours(q, {**OFF, "keywords": 1.0, "popularity": 0.01}),
            "trending only (upvotes)": trending,
            "per-user linear SVM on tf-idf (arxiv-sanity-lite)": lambda q: svm.rank(q.liked, _ids(q), K),
            "today's ranker (lexical blend)": lambda q: ours(q, LEXICAL),
            "**default** (+ taste model + semantic, WordLlama)": lambda q: ours(q, DEFAULT_WEIGHTS),
            "  default without the taste model": lambda q: ours(q, {**DEFAULT_WEIGHTS, "taste": 0.0}),
            "  default without the semantic signal": lambda q: ours(q, {**DEFAULT_WEIGHTS, "semantic": 0.0}),
            "  semantic only (WordLlama)": lambda q: ours(q, {**OFF, "semantic": 1.0, "popularity": 0.01}),
        }  # fmt: skip
        report(rankers, queries)


def report(rankers: dict[str, Ranker], queries: Sequence[Query]) -> None:
    """One line per ranker; the differences are to the first ranker, paired per trial."""
    per_trial = {name: evaluate(ranker, queries) for name, ranker in rankers.items()}
    base_name = next(iter(rankers))
    base_p, base_n = per_trial[base_name]
    print("\n| ranker | P@10 | nDCG@10 | P@10 vs first | ΔP@10 ± SE | ΔnDCG@10 ± SE |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (p, n) in per_trial.items():
        dp, dn = p - base_p, n - base_n
        ratio = p.mean() / base_p.mean() if base_p.mean() else float("nan")
        print(f"| {name} | {p.mean():.3f} | {n.mean():.3f} | {ratio:.3f} | "
              f"{dp.mean():+.3f} ± {_se(dp):.3f} | {dn.mean():+.3f} ± {_se(dn):.3f} |")  # fmt: skip


def _se(diff: np.ndarray) -> float:
    return float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0


def build_topics(papers: Sequence[Candidate]) -> dict[str, set[str]]:
    by_topic: dict[str, set[str]] = defaultdict(set)
    for c in papers:
        for kw in c.ai_keywords:
            if key := phrase_key(kw):
                by_topic[key].add(c.arxiv_id)
    big = {t: ids for t, ids in by_topic.items() if len(ids) >= MIN_TOPIC_PAPERS}
    return dict(sorted(big.items(), key=lambda item: (-len(item[1]), item[0])))


def build_groups(papers: Sequence[Candidate]) -> dict[str, set[str]]:
    """Papers whose ai_keywords contain the phrase (as adjacent words), per phrase."""
    keys = {c.arxiv_id: {phrase_key(k) for k in c.ai_keywords} - {""} for c in papers}
    phrases = sorted({k for ks in keys.values() for k in ks})
    groups = {}
    for phrase in phrases:
        ids = {a for a, ks in keys.items() if any(f" {phrase} " in f" {k} " for k in ks)}
        if len(ids) >= MIN_GROUP_PAPERS:
            groups[phrase] = ids
    return dict(sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])))


def build_queries(
    papers: Sequence[Candidate], topics: dict[str, set[str]], seed: int, likes: int
) -> list[Query]:
    pool = [replace(c, ai_keywords=()) for c in papers if c.ai_keywords]
    rng = random.Random(seed)
    queries = []
    for topic, ids in topics.items():
        liked = tuple(rng.sample(sorted(ids), likes))
        candidates = [c for c in pool if c.arxiv_id not in liked]
        liked_papers = [c for c in pool if c.arxiv_id in liked]
        queries.append(Query(topic, liked, liked_papers, candidates, frozenset(ids) - set(liked)))
    return queries


def trending(q: Query) -> list[str]:
    return [c.arxiv_id for c in sorted(q.candidates, key=lambda c: -c.upvotes)[:K]]


def ours(q: Query, weights: dict[str, float], *, interests: bool = True) -> list[str]:
    profile = Profile(key=1, interests=(q.topic,) if interests else (), liked=q.liked, k=K)
    (picks,) = rank_for_all(q.candidates, [profile], reference=q.liked_papers, weights=weights)
    return [p.arxiv_id for p in picks]


def _ids(q: Query) -> list[str]:
    return [c.arxiv_id for c in q.candidates]


class SvmRanker:
    """arxiv-sanity-lite's recommender: tf-idf over all papers (title + abstract, word
    1-2 grams, sublinear tf), then per user a LinearSVC with the liked papers as
    positives and every other paper as a negative; rank by decision function."""

    def __init__(self, papers: Sequence[Candidate]) -> None:
        self.row = {c.arxiv_id: i for i, c in enumerate(papers)}
        self.x = TfidfVectorizer(
            strip_accents="unicode", lowercase=True, analyzer="word", stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
            max_features=10_000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
            max_df=0.5, min_df=2,
        ).fit_transform([f"{c.title} {c.abstract}" for c in papers])  # fmt: skip

    def rank(self, liked: Sequence[str], candidates: Sequence[str], k: int) -> list[str]:
        y = np.zeros(self.x.shape[0])
        y[[self.row[a] for a in liked if a in self.row]] = 1
        if not y.any():
            return list(candidates[:k])
        clf = LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
        clf.fit(self.x, y)
        rows = [self.row[a] for a in candidates]
        scores = clf.decision_function(self.x[rows])
        return [candidates[i] for i in np.argsort(-scores, kind="stable")[:k]]


def evaluate(ranker: Ranker, queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray]:
    precision, ndcg = [], []
    for q in queries:
        ranked = ranker(q)[:K]
        gains = [1.0 if a in q.relevant else 0.0 for a in ranked]
        precision.append(sum(gains) / K)
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(q.relevant))))
        ndcg.append(dcg / ideal if ideal else 0.0)
    return np.array(precision), np.array(ndcg)


if __name__ == "__main__":
    main()
