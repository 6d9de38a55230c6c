"""Send a built run of rendered digests over real SMTP through the project's pipeline.

A real Celery worker (prefork, 2 processes) on the Redis broker consumes the chunk tasks
queued by digest_run_send() and, per delivery, claims the row, renders the email and
sends it over one reused SMTP connection per chunk to a local aiosmtpd server, then marks
it sent. The server runs in its own process (not sharing a GIL with this driver) with a
handler that only counts and answers "250 OK"; aiosmtpd still parses every command and
reads DATA line by line. Timed: from queueing the chunks to the last message received
by the server. Not timed: building the run, starting the worker.

Also printed per run: CPU milliseconds per message of the SMTP server, of the worker
processes, and of the whole machine (all processes, from /proc/stat), so a CPU ceiling
shows up as such. The server's CPU per message is a fixed workload: when it moves
between runs, the machine's speed moved (these machines are shared).
With --pipelining the server offers PIPELINING (RFC 2920), as Postfix and the ESPs'
SMTP relays do; stock aiosmtpd does not.

    createdb -h 127.0.0.1 -U postgres digest_runs_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/digest_runs_bench \
        .venv/bin/python bench/send_smtp.py --subscribers 10000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/9")
CACHE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings.test",
    CELERY_BROKER_URL=BROKER,
    REDIS_URL=CACHE,
    CELERY_TASK_ALWAYS_EAGER="False",
)
TICK = os.sysconf("SC_CLK_TCK")


class Counter:
    """The sink's handler: counts recipients into shared memory, keeps nothing."""

    def __init__(self, count: Any, last: Any, pipelining: bool = False) -> None:
        self.count = count
        self.last = last
        self.pipelining = pipelining

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:  # --pipelining: offer RFC 2920, as Postfix and ESP relays do
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope):
        # One writer (the server's event loop); the driver only reads.
        self.count.value += len(envelope.rcpt_tos)
        self.last.value = time.perf_counter()
        return "250 OK"


def _serve(port: int, count: Any, last: Any, ready: Any, pipelining: bool) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Counter(count, last, pipelining), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    signal.sigwait({signal.SIGTERM})
    controller.stop()


def _start_sink(port: int, pipelining: bool = False) -> tuple[Any, Any, Any]:
    # Forked before django.setup(): the server process holds no database connection.
    context = multiprocessing.get_context("fork")
    count, last = context.Value("q", 0, lock=False), context.Value("d", 0.0, lock=False)
    ready = context.Event()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    sink = context.Process(target=_serve, args=(port, count, last, ready, pipelining), daemon=True)
    sink.start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    ready.wait(30)
    return sink, count, last


def _cpu(pid: int) -> float:
    """User + system CPU seconds of one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _group_cpu(pgid: int) -> float:
    return _cpu_where(lambda name, fields: int(fields[2]) == pgid)


def _postgres_cpu() -> float:
    # Every PostgreSQL process (backends, WAL writer, ...), other databases' included,
    # plus the finished backends (Django closes its connection after each task), which
    # the postmaster has reaped into its children's CPU time.
    return _cpu_where(lambda name, fields: name == "postgres", children=True)


def _cpu_where(match: Any, children: bool = False) -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name, _, rest = (entry / "stat").read_text().partition(") ")
                fields = rest.split()
            except OSError:
                continue
            if match(name.partition(" (")[2], fields):
                total += sum(int(x) for x in fields[11 : 15 if children else 13]) / TICK
    return total


def _machine_busy() -> float:
    """CPU seconds spent by all processes on the machine (not idle, not iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_worker(port: int, concurrency: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "DEBUG": "False",
        "SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    }
    celery = str(Path(sys.executable).with_name("celery"))
    worker = subprocess.Popen(
        [celery, "-A", "config.celery_app", "worker", "--pool=prefork", "-c", str(concurrency),
         "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for line in worker.stderr:  # type: ignore[union-attr]
        if " ready." in line:
            break
    threading.Thread(target=lambda: [None for _ in worker.stderr], daemon=True).start()  # type: ignore[union-attr]
    return worker


def one_run(sink: Any, count: Any, last: Any, worker: subprocess.Popen) -> dict[str, float]:
    from django.db import connection

    from bench.build_run import DAY
    from digest import editions, sending
    from digest.models import Delivery, DigestRun

    DigestRun.objects.all().delete()
    with connection.cursor() as cursor:  # so autovacuum does not start mid-run
        cursor.execute("VACUUM ANALYZE digest_delivery")
    run = editions.digest_run_build(day=DAY)
    n = Delivery.objects.filter(run=run).count()
    cpu = (_cpu(sink.pid), _group_cpu(worker.pid), _postgres_cpu(), _machine_busy())
    target = count.value + n
    started = time.perf_counter()
    sending.digest_run_send(run=run)  # queues chunk tasks (not in a transaction: at once)
    while count.value < target:
        time.sleep(0.05)
    elapsed = last.value - started
    now = (_cpu(sink.pid), _group_cpu(worker.pid), _postgres_cpu(), _machine_busy())
    used = [after - before for after, before in zip(now, cpu, strict=True)]
    while DigestRun.objects.get(pk=run.pk).status != DigestRun.Status.DONE:
        time.sleep(0.1)
    sent = Delivery.objects.filter(run=run, status="sent").count()
    return {
        "messages": n,
        "sent_rows": sent,
        "seconds": elapsed,
        "messages_per_s": n / elapsed,
        "sink_cpu_ms_per_msg": 1000 * used[0] / n,
        "worker_cpu_ms_per_msg": 1000 * used[1] / n,
        "postgres_cpu_ms_per_msg": 1000 * used[2] / n,
        "machine_cpu_ms_per_msg": 1000 * used[3] / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--pipelining", action="store_true", help="the server offers PIPELINING (RFC 2920)"
    )
    args = parser.parse_args()
    port = _free_port()
    sink, count, last = _start_sink(port, pipelining=args.pipelining)
    import django

    django.setup()
    import redis

    from bench.build_run import setup_data

    for url in (BROKER, CACHE):
        redis.Redis.from_url(url).flushdb()
    setup_data(args.subscribers, 300)
    worker = _start_worker(port, args.concurrency)
    # A timeout's SIGTERM must still stop the worker (its own session) in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        results = []
        for _ in range(args.runs):
            results.append(one_run(sink, count, last, worker))
            print("  run:", json.dumps({k: round(v, 2) for k, v in results[-1].items()}))
        summary = {key: statistics.median(r[key] for r in results) for key in results[0]}
        head = {"subscribers": args.subscribers, "runs": args.runs, "pipelining": args.pipelining}
        print(json.dumps({**head, "median": summary}))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        sink.terminate()
        sink.join(10)


if __name__ == "__main__":
    main()
