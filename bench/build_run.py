"""Build and render a digest run for many synthetic subscribers over 300 real papers.

Timed, in a fresh process per run (so peak RSS is the run's own; imports included):
  build  = digest_run_build(day=...), as the `send_digests` command calls it: load
           the due subscribers, no-repeat exclusions, feedback and profiles, one
           ranking.Ranker for the edition (rank_columns per batch of PLAN_BATCH), the
           picks JSON and the insert of the deliveries (COPY) on PostgreSQL;
  render = every delivery's full email (subject, text, CSS-inlined HTML with its signed
           links) from the run's snapshot, loaded and rendered as the send path does
           (Delivery + subscriber rows, renderer_for(run).render; MIME and SMTP are
           bench/send_smtp.py's business), split over --render-processes forked
           processes (2, like the two send workers).
Peak RSS is the largest of the builder and the renderers.
Not timed: creating the subscribers and papers.

    createdb -h 127.0.0.1 -U postgres digest_runs_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/digest_runs_bench \
        .venv/bin/python bench/build_run.py --sizes 10000 100000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

DAY = date(2026, 11, 17)
CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO", "stat.ML", "cs.IR"]


def _django() -> None:
    import django

    django.setup()


def create_papers(n_papers: int, rng: random.Random) -> tuple[list[Any], list[str]]:
    """The first ``n_papers`` real sample papers as Paper rows trending on DAY, and the
    sorted ai_keywords they carry (what synthetic readers pick their interests from)."""
    from bench._papers import load_papers
    from digest.models import Paper, PaperTrend
    from digest.sources.hf_api import HfApiSource

    real = load_papers()[:n_papers]
    papers = Paper.objects.bulk_create(
        Paper(
            arxiv_id=p.candidate.arxiv_id,
            title=p.candidate.title,
            abstract=p.candidate.abstract,
            authors=list(p.candidate.authors),
            ai_keywords=list(p.candidate.ai_keywords),
            categories=[rng.choice(CATEGORIES)],
            upvotes=p.candidate.upvotes,
            ai_summary=p.candidate.abstract[:300],
            github_repo="https://github.com/example/code" if i % 3 == 0 else "",
            github_stars=100 + i if i % 3 == 0 else None,
            sources=[HfApiSource.name],
        )
        for i, p in enumerate(real)
    )
    PaperTrend.objects.bulk_create(
        PaperTrend(paper=p, day=DAY, source=HfApiSource.name, rank=i + 1, upvotes=p.upvotes)
        for i, p in enumerate(papers)
    )
    keywords = sorted({k for p in real for k in p.candidate.ai_keywords}) or ["transformers"]
    return papers, keywords


def setup_data(n_subscribers: int, n_papers: int, seed: int = 0) -> None:
    from django.core.management import call_command

    from digest.models import Delivery, DigestRun, Paper, PaperTrend
    from subscriptions.models import Subscriber

    call_command("migrate", verbosity=0)
    Delivery.objects.all().delete()
    DigestRun.objects.all().delete()
    Subscriber.objects.all().delete()
    PaperTrend.objects.all().delete()
    Paper.objects.all().delete()
    rng = random.Random(seed)
    papers, keywords = create_papers(n_papers, rng)
    Subscriber.objects.bulk_create(
        (
            Subscriber(
                email=f"bench{i}@example.com",
                status=Subscriber.Status.ACTIVE,
                interests=", ".join(rng.sample(keywords, k=min(3, len(keywords)))),
                categories=rng.sample(CATEGORIES, k=2),
                digest_size=rng.choice([5, 10, 20]),
            )
            for i in range(n_subscribers)
        ),
        batch_size=5000,
    )
    print(f"setup: {len(papers)} papers, {n_subscribers} subscribers", file=sys.stderr)


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux carries it over execve(), so a fresh
    child would report its parent's peak (here the setup of 100,000 subscribers)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _render_share(run_id: int, workers: int, index: int) -> tuple[int, int, float]:
    """Render every ``workers``-th delivery, as one of ``workers`` send processes would."""
    from digest.emails.digest import renderer_for
    from digest.models import Delivery, DigestRun

    renderer = renderer_for(DigestRun.objects.get(pk=run_id))
    deliveries = Delivery.objects.filter(run_id=run_id).select_related("subscriber").order_by()
    if workers > 1:
        deliveries = deliveries.extra(
            where=["digest_delivery.id %% %s = %s"], params=[workers, index]
        )
    size = rendered = 0
    for delivery in deliveries.iterator(chunk_size=2000):
        out = renderer.render(
            delivery_id=delivery.pk, subscriber=delivery.subscriber, picks=delivery.picks
        )
        size += len(out.html)
        rendered += 1
    # A forked process starts with its parent's high-water mark: an upper bound.
    return rendered, size, _peak_rss_mb()


def measure(render_processes: int) -> dict[str, float]:
    from django.db import connections

    from digest import editions
    from digest.models import DigestRun

    DigestRun.objects.all().delete()
    started = time.perf_counter()
    run = editions.digest_run_build(day=DAY)
    built = time.perf_counter()
    connections.close_all()  # each forked renderer opens its own connection
    with multiprocessing.get_context("fork").Pool(render_processes) as pool:
        shares = pool.starmap(
            _render_share, [(run.pk, render_processes, i) for i in range(render_processes)]
        )
    finished = time.perf_counter()
    rendered = sum(n for n, _, _ in shares)
    peak = max(_peak_rss_mb(), *(rss for _, _, rss in shares))
    return {
        "deliveries": rendered,
        "build_s": built - started,
        "render_s": finished - built,
        "total_s": finished - started,
        "digests_per_s": rendered / (finished - started),
        "peak_rss_mb": peak,
        "mean_html_kb": sum(size for _, size, _ in shares) / max(rendered, 1) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--papers", type=int, default=300)
    parser.add_argument(
        "--render-processes", type=int, default=2, help="like the send workers (default 2)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _django()
    if args.child:
        print(json.dumps(measure(args.render_processes)))
        return
    for size in args.sizes:
        setup_data(size, args.papers)
        results = [_child(args.render_processes) for _ in range(args.runs)]
        summary = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(json.dumps({"subscribers": size, "runs": args.runs, "median": summary}))
        for result in results:
            print("  run:", json.dumps({k: round(v, 2) for k, v in result.items()}))


def _child(render_processes: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", "--render-processes", str(render_processes)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
