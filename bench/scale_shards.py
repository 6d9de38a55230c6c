"""Sharded planning at scale: N readers planned, ranked and rendered by 2 worker processes.

Not timed: the readers (SQL generate_series, varied interests, categories and sizes from
the 300 real papers' keywords) and the papers (as bench/build_run.py makes them).

Timed, on a real Celery worker (``--concurrency 2``, prefork, the Redis broker of
CELERY_BROKER_URL), wall clock from the first query to the last email rendered:
  open   = ``digest_plan_open`` as ``send_digests --queue`` calls it, in a fresh process:
           the due readers' ids (streamed scheduling fields), their feedback, the Ranker
           built and pickled once, the shard rows;
  shards = per shard, a chain of the real ``digest.tasks.plan_shard`` task (the
           edition is held for review, so it plans and does not send) and this file's
           ``bench.render_shard`` (every email of the shard rendered from rows, as the
           send path renders; MIME and SMTP are bench/send_smtp.py's business), so
           rendering starts as soon as a shard is planned.
Then, separately, ``--rank`` passes: the same shards ranked only (readers read, profiles,
``Ranker.rank_columns``; nothing written), wall clock for all of them.
Peak RSS: VmHWM of each worker process and of the opening process. Worker CPU: user +
system seconds of the two worker processes (on a busy machine a better guide than wall).

    createdb -h 127.0.0.1 -U postgres scale_digest
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/scale_digest \
        CELERY_BROKER_URL=redis://127.0.0.1:6379/11 REDIS_URL=redis://127.0.0.1:6379/10
    .venv/bin/python bench/scale_shards.py --readers 1000000 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from celery import shared_task  # noqa: E402

from bench.build_run import CATEGORIES, DAY, create_papers  # noqa: E402

COUNTER = "bench:scale_shards:rendered"
RANKED = "bench:scale_shards:ranked"
WORKER_ENV = {
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "DIGEST_REQUIRE_APPROVAL": "true",  # plan, do not send: rendering is timed here
    "PYTHONPATH": str(ROOT),
}


os.environ.update(WORKER_ENV)  # this process queues for real and holds editions for review


def _redis():  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/10"))


def _peak_rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@shared_task(name="bench.render_shard")
def render_shard(shard_id: int) -> int:
    """Render every email of a shard from rows, as the send path would; count them."""
    from digest.editions.selectors import delivery_render_rows
    from digest.emails.digest import renderer_for
    from digest.models import DigestRun, PlanShard

    shard = PlanShard.objects.select_related("plan").get(pk=shard_id)
    renderer = renderer_for(DigestRun.objects.get(pk=shard.plan.run_id))
    readers = set(shard.subscriber_ids)
    rendered = 0
    for delivery_id, reader, picks in delivery_render_rows(
        run_id=shard.plan.run_id, first_id=shard.first_id, last_id=shard.last_id, readers=readers
    ):
        renderer.render(delivery_id=delivery_id, subscriber=reader, picks=picks)
        rendered += 1
    _redis().incrby(COUNTER, rendered)
    return rendered


@shared_task(name="bench.rank_shard")
def rank_shard(shard_id: int) -> float:
    """Rank a shard's readers (read, profiles, rank_columns), write nothing."""
    from digest.editions import shards
    from digest.models import PlanShard
    from digest.ranking import inputs as ranking_inputs
    from subscriptions.models import Subscriber

    started = time.perf_counter()
    shard = PlanShard.objects.select_related("plan").get(pk=shard_id)
    readers = set(shard.subscriber_ids)
    in_range = Subscriber.objects.filter(pk__gte=shard.first_id, pk__lte=shard.last_id)
    rows = [r for r in ranking_inputs.subscriber_inputs(in_range) if r.pk in readers]
    ranker = shards._ranker(shard.plan)
    profiles = ranking_inputs.profiles_for_subscribers(rows)
    ranker.rank_columns(profiles)
    _redis().incrby(RANKED, len(rows))
    return time.perf_counter() - started


def setup(n: int, n_papers: int = 300) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE digest_delivery, digest_digestrun, digest_editionplan, digest_planshard,"
            " digest_papertrend, digest_paper, subscriptions_subscriber RESTART IDENTITY CASCADE"
        )
    # The papers as bench/build_run.py makes them.
    papers, keywords = create_papers(n_papers, random.Random(0))
    with connection.cursor() as cursor:
        # Pseudo-random but fixed choices per reader: 3 keywords, 2 categories, a size.
        cursor.execute(
            "INSERT INTO subscriptions_subscriber (email, status, interests, categories,"
            " followed_authors, digest_size, frequency, weekday, send_hour, timezone,"
            " token_version, soft_bounce_count, created_at)"
            " SELECT 'bench' || i || '@example.com', 'active',"
            "  k[1 + (i * 7919) %% n] || ', ' || k[1 + (i * 104729) %% n] || ', '"
            "   || k[1 + (i * 15485863) %% n],"
            "  jsonb_build_array(c[1 + i %% 7], c[1 + (i / 7) %% 7]),"
            "  '[]', (ARRAY[5, 10, 20])[1 + (i * 31) %% 3], 'daily', 0, 7, 'UTC', 1, 0, now()"
            " FROM generate_series(1, %s::bigint) AS i,"
            "  (SELECT %s::text[] AS k, %s AS n, %s::text[] AS c) AS choices",
            [n, keywords, len(keywords), CATEGORIES],
        )
        cursor.execute("VACUUM ANALYZE")
    print(f"setup: {len(papers)} papers, {n:,} readers", file=sys.stderr)


def open_plan() -> dict[str, float]:
    """The coordinator (send_digests --queue's planning half), in a fresh process."""
    from digest import editions

    started = time.perf_counter()
    ids = editions.due_on_ids(day=DAY, frequency="daily")
    plan = editions.digest_plan_open(day=DAY, frequency="daily", subscriber_ids=ids)
    assert plan is not None
    return {
        "plan": plan.pk,
        "open_s": time.perf_counter() - started,
        "open_rss_mb": _peak_rss_mb(),
        "readers": len(ids),
    }


class Worker:
    def __init__(self) -> None:
        command = [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "config.celery_app",
            "worker",
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--include",
            "bench.scale_shards",
            "--loglevel",
            os.environ.get("BENCH_LOGLEVEL", "WARNING"),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **WORKER_ENV})
        self.children: list[int] = []
        for _ in range(200):
            time.sleep(0.1)
            self.children = _children(self.process.pid)
            if len(self.children) == 2:
                break
        time.sleep(1.0)

    def cpu_seconds(self) -> float:
        """User + system CPU of the worker processes so far (less load-bound than wall)."""
        total = 0.0
        for pid in _children(self.process.pid):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def peak_rss_mb(self) -> list[float]:
        return [_peak_rss_mb(pid) for pid in _children(self.process.pid)]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


TIMEOUT = 3600.0  # a busy shared machine: a 1M run took over 900 s at load 6-8


def _wait(key: str, target: int, timeout: float = TIMEOUT) -> float:
    redis = _redis()
    started = time.perf_counter()
    while int(redis.get(key) or 0) < target:
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{key}: {redis.get(key)} of {target}")
        time.sleep(0.05)
    return time.perf_counter()


def measure(rank_passes: int) -> dict[str, float]:
    from celery import chain
    from django.db import connection

    from digest.models import DigestRun, EditionPlan
    from digest.tasks import plan_shard

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE digest_delivery, digest_digestrun RESTART IDENTITY CASCADE")
    redis = _redis()
    redis.delete(COUNTER, RANKED)
    _empty_broker()
    worker = Worker()
    try:
        cpu_before = worker.cpu_seconds()
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child"], check=True, capture_output=True, text=True
        )
        opened = json.loads(out.stdout.strip().splitlines()[-1])
        plan = EditionPlan.objects.get(pk=opened["plan"])
        shard_ids = list(plan.shards.order_by("first_id").values_list("pk", flat=True))
        for shard_id in shard_ids:
            chain(plan_shard.si(shard_id), render_shard.si(shard_id)).apply_async()
        rendered_at = _wait(COUNTER, int(opened["readers"]))
        cpu_rendered = worker.cpu_seconds()
        planned = DigestRun.objects.get(pk=plan.run_id).deliveries.count()
        result = {
            "readers": opened["readers"],
            "shards": len(shard_ids),
            "deliveries": planned,
            "open_s": opened["open_s"],
            "total_s": rendered_at - started,
            "worker_cpu_s": cpu_rendered - cpu_before,
            "open_rss_mb": opened["open_rss_mb"],
        }
        # Ranking alone: the plan's stored ranker, loaded by the same workers.
        EditionPlan.objects.filter(pk=plan.pk).update(
            ranker=_ranker_blob(plan.run_id), finished_at=None
        )
        ranks = []
        for _ in range(rank_passes):
            redis.delete(RANKED)
            rank_started = time.perf_counter()
            for shard_id in shard_ids:
                rank_shard.delay(shard_id)
            ranks.append(_wait(RANKED, int(opened["readers"])) - rank_started)
        if ranks:
            result["rank_s"] = statistics.median(ranks)
            result["rank_cpu_s"] = (worker.cpu_seconds() - cpu_rendered) / len(ranks)
        result["worker_rss_mb"] = max(worker.peak_rss_mb())
        return result
    finally:
        worker.stop()


def _empty_broker() -> None:
    """Drop the tasks an interrupted run left (queued, or taken but not acknowledged):
    shard ids start again at 1, so they would plan and count this run's shards."""
    import redis

    from config.celery_app import app

    app.control.purge()
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    broker.delete("unacked", "unacked_index")  # kombu's Redis transport's keys


def _ranker_blob(run_id: int) -> bytes:
    # The finished plan dropped its ranker: build the same one again for the rank pass.
    import pickle

    from digest.editions import planning
    from digest.models import DigestRun

    run = DigestRun.objects.get(pk=run_id)
    papers = planning._papers_for(day=run.edition_date, frequency=run.frequency)
    ranker = planning.edition_ranker(day=run.edition_date, papers=papers, feedback={})
    return pickle.dumps(ranker, protocol=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rank-passes", type=int, default=1)
    parser.add_argument("--no-setup", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import django

    django.setup()
    if args.child:
        print(json.dumps(open_plan()))
        return
    if not args.no_setup:
        setup(args.readers)
    print(f"load average before: {os.getloadavg()}", flush=True)
    results = []
    for _ in range(args.runs):
        results.append(measure(args.rank_passes))
        print("  run:", json.dumps({k: round(v, 2) for k, v in results[-1].items()}), flush=True)
    summary = {key: statistics.median(r[key] for r in results) for key in results[0]}
    print(json.dumps({"runs": args.runs, "median": summary}))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
