"""What recording a hand-over costs: three ways to write the mark, on PostgreSQL and Redis.

- simple: what digest/sending/marks.py writes (one simple-protocol message: BEGIN, SET
  LOCAL synchronous_commit OFF, UPDATE, COMMIT);
- pipeline: the same transaction through psycopg's pipeline, as the mark-sent goes;
- redis: a SET with a TTL keyed by the delivery, the other candidate store.

N of each, alternating in blocks of 100, on one delivery row set to "sending": the wall
time of a whole round trip (what a mark costs when nothing overlaps it; over SMTP it
overlaps the server's reply) and this process's CPU time, per mark (medians of blocks).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db with a built run> \\
    REDIS_URL=redis://127.0.0.1:6379/<db> .venv/bin/python bench/send_marker.py --n 3000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
BLOCK = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()
    import django

    django.setup()
    import redis
    from django.utils import timezone

    from digest.models import Delivery
    from digest.sending import marks

    delivery = Delivery.objects.order_by("pk").first()
    if delivery is None:
        raise SystemExit("no delivery: run bench/harden_kills.py or bench/send_smtp.py first")
    status = delivery.status
    Delivery.objects.filter(pk=delivery.pk).update(status="sending")
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    key = f"bench:handed-over:{delivery.pk}"
    statement = (
        "UPDATE digest_delivery SET sent_at = %s, esp_message_id = %s"
        " WHERE id = %s AND status = 'sending'"
    )

    def simple() -> None:
        marks.delivery_mark_handed_over(delivery, None, meanwhile=lambda: None)

    def pipeline() -> None:
        marks._update_pipelined(statement, [timezone.now(), "<bench@example>", delivery.pk])

    def redis_set() -> None:
        client.set(key, "1", ex=600)

    kinds = {"simple": simple, "pipeline": pipeline, "redis": redis_set}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in kinds}
    try:
        for _ in range(10):  # warm up: connections, the prepared statement
            for mark in kinds.values():
                mark()
        for _ in range(args.n // BLOCK):
            for name, mark in kinds.items():
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(BLOCK):
                    mark()
                samples[name].append(
                    ((time.perf_counter() - wall) / BLOCK, (time.process_time() - cpu) / BLOCK)
                )
    finally:
        Delivery.objects.filter(pk=delivery.pk).update(status=status)
        client.delete(key)
    result = {
        name: {
            "wall_us_median": round(1e6 * statistics.median(w for w, _ in rows), 1),
            "client_cpu_us_median": round(1e6 * statistics.median(c for _, c in rows), 1),
        }
        for name, rows in samples.items()
    }
    print(json.dumps({"n": args.n, "load": os.getloadavg()[0], **result}))


if __name__ == "__main__":
    main()
