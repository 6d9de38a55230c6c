"""Replay a day of beat ticks for N readers spread over time zones, with measured costs.

A model, not a benchmark: every 15 minutes the readers whose local send hour has come
are planned (sharded, on the workers) and sent (chunks, on the same workers), at most
--esp-rate messages per second. Each simulated second the worker processes spend their
CPU on the oldest work first; sending waits for its shard to be planned. Printed per
reader count: the busiest tick, when its last email leaves (minutes after the tick),
the worker processes and PostgreSQL cores that keeps under the target, and the
deliveries the day adds. Costs are CPU milliseconds per reader measured on this
machine (docs/benchmarks.md, "Sharded planning, signup lookups, retention (issue #17)",
and docs/scaling.md); override them to
replay with other figures.

    .venv/bin/python bench/scale_simulate.py                  # 100k, 1M, 10M readers
    .venv/bin/python bench/scale_simulate.py --readers 1000000 --workers 8 --esp-rate 500
"""

from __future__ import annotations

import argparse
import math
from collections import deque
from dataclasses import dataclass

TICK_SECONDS = 15 * 60
DAY_SECONDS = 24 * 3600

# Readers by UTC offset (hours) of their time zone: a newsletter read mostly in the
# Americas, Europe and Asia; sums to 1.
ZONES = {
    -8: 0.10, -7: 0.04, -6: 0.06, -5: 0.15, -3: 0.05, 0: 0.08, 1: 0.22, 2: 0.06,
    3: 0.02, 5.5: 0.08, 8: 0.08, 9: 0.04, 10: 0.02,
}  # fmt: skip
# Local send hours chosen by readers (the default is 7): sums to 1.
HOURS = {6: 0.10, 7: 0.60, 8: 0.15, 9: 0.10, 12: 0.05}


@dataclass(frozen=True)
class Costs:
    plan_ms: float  # worker CPU per reader: read, rank, picks JSON, COPY (sharded)
    send_ms: float  # worker CPU per reader: claim, render, MIME, SMTP (bench/send_smtp.py)
    pg_ms: float  # PostgreSQL CPU per reader: planning writes + claim + sent update
    row_bytes: float  # one delivery row with its indexes, full picks
    compact_row_bytes: float  # after the retention job cut its picks to arXiv ids


def arrivals(readers: int) -> list[float]:
    """Readers due at each of the day's 96 ticks (UTC)."""
    ticks = [0.0] * (DAY_SECONDS // TICK_SECONDS)
    for offset, zone_share in ZONES.items():
        for hour, hour_share in HOURS.items():
            utc_seconds = ((hour - offset) * 3600) % DAY_SECONDS
            ticks[int(utc_seconds // TICK_SECONDS)] += readers * zone_share * hour_share
    return ticks


def replay(readers: int, workers: int, esp_rate: float, costs: Costs) -> dict[str, float]:
    """One day, second by second; the worst tick's minutes from tick to last email."""
    due = arrivals(readers)
    to_plan: deque[list[float]] = deque()  # [tick, readers left to plan]
    to_send: deque[list[float]] = deque()  # [tick, readers planned, not sent]
    left = {}  # tick -> readers not yet sent
    finished = {}
    for second in range(2 * DAY_SECONDS):  # a second day drains the first one's queue
        if second < DAY_SECONDS and second % TICK_SECONDS == 0:
            tick = second // TICK_SECONDS
            if due[tick] > 0:
                to_plan.append([tick, due[tick]])
                left[tick] = due[tick]
        budget = workers * 1000.0  # worker CPU ms this second
        sends = esp_rate
        # Sending first (older ticks' emails), then planning, as the queues order them.
        while to_send and budget > 0 and sends > 0:
            item = to_send[0]
            n = min(item[1], budget / costs.send_ms, sends)
            item[1] -= n
            budget -= n * costs.send_ms
            sends -= n
            left[item[0]] -= n
            if left[item[0]] <= 1e-6:
                finished[item[0]] = second + 1 - item[0] * TICK_SECONDS
            if item[1] <= 1e-6:
                to_send.popleft()
        while to_plan and budget > 0:
            item = to_plan[0]
            n = min(item[1], budget / costs.plan_ms)
            item[1] -= n
            budget -= n * costs.plan_ms
            if to_send and to_send[-1][0] == item[0]:
                to_send[-1][1] += n
            else:
                to_send.append([item[0], n])
            if item[1] <= 1e-6:
                to_plan.popleft()
        if second >= DAY_SECONDS and not to_plan and not to_send:
            break
    worst = max(finished.values()) if len(finished) == len(left) else math.inf
    peak = max(due)
    pg_cores = peak * costs.pg_ms / 1000 / max(min(worst, TICK_SECONDS), 1)
    return {"worst_min": worst / 60, "peak_tick": peak, "pg_cores": pg_cores}


def workers_needed(readers: int, esp_rate: float, costs: Costs, target_min: float) -> int:
    workers = 1
    while replay(readers, workers, esp_rate, costs)["worst_min"] > target_min:
        workers *= 2
        if workers > 4096:
            return workers
    low, high = workers // 2 + 1, workers
    while low < high:  # the least that meets the target
        mid = (low + high) // 2
        if replay(readers, mid, esp_rate, costs)["worst_min"] <= target_min:
            high = mid
        else:
            low = mid + 1
    return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, help="replay with this many worker processes")
    parser.add_argument(
        "--esp-rate", type=float, help="messages/s the ESP accepts (default: ample)"
    )
    parser.add_argument("--target-minutes", type=float, default=15.0)
    parser.add_argument("--plan-ms", type=float, default=0.20)
    parser.add_argument("--send-ms", type=float, default=1.05)
    parser.add_argument("--pg-ms", type=float, default=0.60)
    parser.add_argument("--row-bytes", type=float, default=1150)
    parser.add_argument("--compact-row-bytes", type=float, default=810)
    args = parser.parse_args()
    costs = Costs(args.plan_ms, args.send_ms, args.pg_ms, args.row_bytes, args.compact_row_bytes)
    print(f"costs per reader: {costs}; target: the busiest tick sent within "
          f"{args.target_minutes:.0f} min")  # fmt: skip
    print(f"{'readers':>11} {'busiest tick':>12} {'ESP msg/s':>9} {'workers':>7} "
          f"{'worst tick min':>14} {'PG cores':>8} {'rows/day':>10} {'GB/day full':>11} "
          f"{'GB/yr kept':>10}")  # fmt: skip
    for readers in args.readers:
        peak = max(arrivals(readers))
        # Enough ESP rate to send the busiest tick within the target, unless given.
        rate = args.esp_rate or math.ceil(peak / (args.target_minutes * 60 * 0.8))
        workers = args.workers or workers_needed(readers, rate, costs, args.target_minutes)
        result = replay(readers, workers, rate, costs)
        full_gb = readers * costs.row_bytes / 1e9
        # A year: 90 days with full picks, the rest compacted by the retention job.
        year_gb = readers * (90 * costs.row_bytes + 275 * costs.compact_row_bytes) / 1e9
        print(f"{readers:>11,} {peak:>12,.0f} {rate:>9,.0f} {workers:>7} "
              f"{result['worst_min']:>14.1f} {result['pg_cores']:>8.1f} {readers:>10,} "
              f"{full_gb:>11.1f} {year_gb:>10.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
