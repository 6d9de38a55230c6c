"""Signup's address lookup and the signup service, from 1,000 to 1,000,000 readers.

For each size the readers table is filled (generate_series, not timed) and analysed,
then, interleaved in rounds: ``subscriber_find`` for known addresses in another case
(what signup and the manage-link form run), with the upper(email) index and, inside a
rolled-back transaction, without it; and ``subscriber_signup`` of new addresses (the
lookup, the insert of the reader and their consent, the confirmation email rendered to
Django's locmem backend). Medians in ms; ``uptime`` load average printed.

    createdb -h 127.0.0.1 -U postgres scale_digest
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scale_digest \
        .venv/bin/python bench/scale_signup_lookup.py --sizes 1000 10000 100000 1000000
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
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _fill(n: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE subscriptions_subscriber RESTART IDENTITY CASCADE")
        cursor.execute(
            "INSERT INTO subscriptions_subscriber (email, status, interests, categories,"
            " followed_authors, digest_size, frequency, weekday, send_hour, timezone,"
            " token_version, soft_bounce_count, created_at)"
            " SELECT 'Reader' || i || '@Example.com', 'active', 'diffusion, agents',"
            " '[\"cs.CL\"]', '[]', 10, 'daily', 0, 7, 'UTC', 1, 0, now()"
            " FROM generate_series(1, %s) AS i",
            [n],
        )
        cursor.execute("VACUUM ANALYZE subscriptions_subscriber")


def _time_ms(fn: object, *args: object) -> float:
    started = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def _round(n: int, rng: random.Random, lookups: int, signups: int, tag: str) -> dict[str, list]:
    from django.db import connection, transaction

    from subscriptions.services import subscriber_find, subscriber_signup

    def find(i: int) -> None:
        assert subscriber_find(email=f"reader{i}@EXAMPLE.com") is not None

    out: dict[str, list[float]] = {"indexed": [], "unindexed": [], "signup": []}
    out["indexed"] = [_time_ms(find, rng.randint(1, n)) for _ in range(lookups)]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX subscriber_email_upper")
        out["unindexed"] = [_time_ms(find, rng.randint(1, n)) for _ in range(max(3, lookups // 10))]
        transaction.set_rollback(True)
    for i in range(signups):
        email = f"new-{tag}-{i}@example.org"
        out["signup"].append(
            _time_ms(lambda e=email: subscriber_signup(email=e, ip="127.0.0.1", user_agent="bench"))
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=100)
    parser.add_argument("--signups", type=int, default=30)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"load average before: {os.getloadavg()}")
    print(f"{'readers':>9} {'find ms (index)':>16} {'find ms (no index)':>19} {'signup ms':>10}")
    rng = random.Random(0)
    for n in args.sizes:
        _fill(n)
        times: dict[str, list[float]] = {"indexed": [], "unindexed": [], "signup": []}
        for r in range(args.rounds):
            for key, values in _round(n, rng, args.lookups, args.signups, f"{n}-{r}").items():
                times[key] += values
        med = {key: statistics.median(values) for key, values in times.items()}
        print(
            f"{n:>9,} {med['indexed']:>16.3f} {med['unindexed']:>19.3f} {med['signup']:>10.3f}"
            f"   load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
