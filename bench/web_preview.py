"""Latency of POST /preview/ (issue #13: p95 under 300 ms on the sample catalogue).

Loads the shipped sample catalogue if the database has no papers, then POSTs --requests
live-preview requests through Django's full stack in this process (middleware, CSRF
checks off, form, ranker, template), each with another profile (interests, categories,
♡ likes, sizes drawn from a fixed seed), and reports the first (cold: the day's Ranker
is built) and the p50/p95/max wall times of the rest. Uses DATABASE_URL / REDIS_URL.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/web_preview.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("SUBSCRIPTIONS_PREVIEW_RATE_PER_IP", "1000000/m")

TOPICS = [
    "diffusion models",
    "retrieval-augmented generation",
    "protein folding",
    "reinforcement learning from human feedback",
    "graph neural networks",
    "speech recognition",
    "vision-language models",
    "mixture of experts",
    "robot manipulation",
    "code generation",
    "video generation",
    "agents, tool use",
    "quantization, efficient inference",
    "3D reconstruction, gaussian splatting",
]
CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO", "stat.ML"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from digest.catalogue import latest_trending_day, paper_list_for_day
    from digest.models import Paper

    if not Paper.objects.exists():
        call_command("fetch_papers", "--file", str(settings.DIGEST_SAMPLE_DIR / "hf_daily_papers"))
    day = latest_trending_day()
    assert day is not None, "no trending papers"
    ids = [p.arxiv_id for p in paper_list_for_day(day=day)]
    rng = random.Random(13)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_PREVIEW="1")

    def one() -> float:
        data: dict[str, object] = {
            "interests": ", ".join(rng.sample(TOPICS, rng.randint(1, 3))),
            "categories": rng.sample(CATEGORIES, rng.randint(0, 2)),
            "liked": rng.sample(ids, min(len(ids), rng.randint(0, 3))),
            "digest_size": rng.choice(["5", "10", "20"]),
            "frequency": "daily",
            "weekday": "0",
            "send_hour": "7",
            "timezone": "UTC",
        }
        started = time.perf_counter()
        response = client.post("/preview/", data)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        assert b"paper-card" in response.content
        return 1000 * elapsed

    cold = one()
    times = sorted(one() for _ in range(args.requests))
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"catalogue: {Paper.objects.count()} papers, preview day {day} with {len(ids)} papers")
    print(f"POST /preview/ x {len(times)} (+1 cold): cold {cold:.1f} ms")
    print(
        f"  p50 {statistics.median(times):.1f} ms  p95 {p95:.1f} ms  max {times[-1]:.1f} ms"
        f"  (target: p95 < 300 ms)"
    )
    print(f"  load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
