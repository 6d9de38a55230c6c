"""Send a built run of rendered digests over real SMTP through the project's pipeline.

A real Celery worker (prefork, 2 processes) on the Redis broker consumes the chunk tasks
queued by digest_run_send() and, per delivery, claims the row, renders the email and
sends it over one reused SMTP connection per chunk to a local aiosmtpd server (in this
process), then marks it sent. Timed: from queueing the chunks to the last message
received by the server. Not timed: building the run, starting the worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/digest_runs_bench \
        .venv/bin/python bench/send_smtp.py --subscribers 10000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

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


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += len(envelope.rcpt_tos)
            self.last = time.perf_counter()
        return "250 OK"


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


def one_run(counter: Counter, total_before: int) -> dict[str, float]:
    from bench.build_run import DAY
    from digest import services
    from digest.models import Delivery, DigestRun

    DigestRun.objects.all().delete()
    run = services.digest_run_build(day=DAY)
    n = Delivery.objects.filter(run=run).count()
    started = time.perf_counter()
    services.digest_run_send(run=run)  # queues chunk tasks (not in a transaction: at once)
    target = total_before + n
    while counter.count < target:
        time.sleep(0.05)
    elapsed = counter.last - started
    while DigestRun.objects.get(pk=run.pk).status != DigestRun.Status.DONE:
        time.sleep(0.1)
    sent = Delivery.objects.filter(run=run, status="sent").count()
    return {"messages": n, "sent_rows": sent, "seconds": elapsed, "messages_per_s": n / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    import django

    django.setup()
    import redis
    from aiosmtpd.controller import Controller

    from bench.build_run import setup_data

    for url in (BROKER, CACHE):
        redis.Redis.from_url(url).flushdb()
    setup_data(args.subscribers, 300)
    counter = Counter()
    port = _free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    worker = _start_worker(port, args.concurrency)
    # A timeout's SIGTERM must still stop the worker (its own session) in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        results = []
        for _ in range(args.runs):
            results.append(one_run(counter, counter.count))
            print("  run:", json.dumps({k: round(v, 2) for k, v in results[-1].items()}))
        summary = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(json.dumps({"subscribers": args.subscribers, "runs": args.runs, "median": summary}))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        controller.stop()


if __name__ == "__main__":
    main()
