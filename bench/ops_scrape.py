"""What the operator's console costs at scale: one /metrics scrape, the dashboard's
30-day charts (uncached) and one edition's funnel, over N deliveries with events.

    DATABASE_URL=postgres://... .venv/bin/python bench/ops_scrape.py --deliveries 100000

Builds its rows in the database it is pointed at (a dedicated one: it deletes the
digest rows it made afterwards), then times each read REPEAT times and prints medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.utils import timezone  # noqa: E402
from prometheus_client import generate_latest  # noqa: E402

from digest.models import Delivery, DigestRun, TrackingEvent  # noqa: E402
from ops import metrics, stats  # noqa: E402
from subscriptions.models import Subscriber  # noqa: E402

REPEAT = 5
BENCH_DOMAIN = "ops-bench.invalid"
BENCH_NOTE = "ops-bench"


def _build(n: int, days: int) -> None:
    now = timezone.now()
    Subscriber.objects.bulk_create(
        [Subscriber(email=f"r{i}@{BENCH_DOMAIN}", status="active") for i in range(n // days)],
        batch_size=5000,
    )
    readers = list(
        Subscriber.objects.filter(email__endswith=BENCH_DOMAIN).values_list("pk", flat=True)
    )
    statuses = ["sent", "delivered", "opened", "clicked", "bounced"]
    for day in range(days):
        run = DigestRun.objects.create(
            edition_date=(now - timedelta(days=day)).date(),
            frequency="daily",
            status="done",
            note=BENCH_NOTE,
        )
        sent = now - timedelta(days=day, hours=1)
        Delivery.objects.bulk_create(
            [
                Delivery(
                    run=run,
                    subscriber_id=pk,
                    status=statuses[i % 5],
                    attempts=1,
                    claimed_at=sent,
                    sent_at=sent + timedelta(milliseconds=40),
                )
                for i, pk in enumerate(readers)
            ],
            batch_size=5000,
        )
        opened = Delivery.objects.filter(run=run, status__in=["opened", "clicked"]).values_list(
            "pk", flat=True
        )
        TrackingEvent.objects.bulk_create(
            [
                TrackingEvent(event_id=f"bench:{run.pk}:{pk}", event_type="opened", delivery_id=pk)
                for pk in opened
            ],
            batch_size=5000,
        )


def _clean() -> None:
    TrackingEvent.objects.filter(event_id__startswith="bench:").delete()
    Delivery.objects.filter(subscriber__email__endswith=BENCH_DOMAIN).delete()
    DigestRun.objects.filter(note=BENCH_NOTE).delete()
    Subscriber.objects.filter(email__endswith=BENCH_DOMAIN).delete()


def _median(fn: object) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    _clean()
    start = time.perf_counter()
    _build(args.deliveries, args.days)
    print(f"built {Delivery.objects.count()} deliveries in {time.perf_counter() - start:.1f}s")
    run = DigestRun.objects.filter(note=BENCH_NOTE).order_by("-edition_date").first()
    try:
        scrape = _median(lambda: generate_latest(metrics.registry()))
        charts = _median(lambda: stats.daily_stats(days=30))
        funnel = _median(lambda: stats.delivery_funnel(deliveries=run.deliveries.all()))
        print(f"/metrics scrape (median of {REPEAT}): {scrape * 1000:.0f} ms")
        for part in ("_deliveries", "_send_rate", "_fetches", "_readers", "_background"):
            fn = getattr(metrics, part)
            print(f"  {part}: {_median(lambda fn=fn: list(fn())) * 1000:.0f} ms")
        for part in ("_runs", "_webhook_events"):
            print(f"  {part}: {_median(getattr(metrics, part)) * 1000:.0f} ms")
        print(f"dashboard 30-day stats, uncached: {charts * 1000:.0f} ms")
        print(f"one edition's funnel ({run.deliveries.count()} deliveries): {funnel * 1000:.0f} ms")
    finally:
        _clean()


if __name__ == "__main__":
    main()
