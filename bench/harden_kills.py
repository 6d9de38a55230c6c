"""Issue #15 finding 10: SIGKILLs and a Redis restart during a 2,000-reader run.

Two Celery workers (prefork, one child each) send a 2,000-reader run over SMTP to an
aiosmtpd server in its own process that records (recipient, Message-ID) of every
message it accepts. Every KILL_EVERY seconds one worker's whole process group is SIGKILLed and
started again (KILLS times, alternating, each once KILL_EVERY more messages arrived, so
the killed worker was sending), and once, halfway, the Redis server (broker and
cache, our own on REDIS_PORT, no persistence: its queue is lost) is killed and restarted.
The sweeper runs every few seconds as beat would, with a short lease (SWEEP_LEASE)
instead of the 3-minute default, so the bench ends in seconds. At the end: readers with
no message (missing) and messages beyond one per reader (duplicates), and how many
deliveries the sweeper found in "sending" (swept), of which how many had been handed over
(their final "." out: counted as sent, not resent; digest/sending/marks.py).

The database is wiped (bench.build_run.setup_data): give it one of its own.

    createdb -h 127.0.0.1 -U postgres harden_kills
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harden_kills .venv/bin/python bench/harden_kills.py
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The checkout whose workers send (BENCH_WORKER_TREE=/tmp/harden-before for "before").
WORKER_TREE = Path(os.environ.get("BENCH_WORKER_TREE", str(ROOT)))
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6390"))
SMTP_PORT = int(os.environ.get("BENCH_SMTP_PORT", "8306"))
READERS = int(os.environ.get("BENCH_READERS", "2000"))
KILLS = int(os.environ.get("BENCH_KILLS", "10"))
KILL_EVERY = int(os.environ.get("BENCH_KILL_EVERY", "120"))  # messages received
RATE = os.environ.get("BENCH_RATE", "80")
CHUNK = 50
SWEEP_LEASE = timedelta(seconds=10)
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
BROKER_URL = f"redis://127.0.0.1:{REDIS_PORT}/1"
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings.local",
    REDIS_URL=REDIS_URL,
    CELERY_BROKER_URL=BROKER_URL,
    CELERY_TASK_ALWAYS_EAGER="False",
    DIGEST_SEND_CHUNK_SIZE=str(CHUNK),
)


class Recorder:
    """aiosmtpd handler: one line "recipient<TAB>Message-ID" per accepted message."""

    def __init__(self, path: str) -> None:
        self.out = open(path, "a", buffering=1)  # noqa: SIM115  # open for the server's life

    async def handle_DATA(self, server, session, envelope):
        message_id = message_from_bytes(envelope.content)["Message-ID"]
        for rcpt in envelope.rcpt_tos:
            self.out.write(f"{rcpt}\t{message_id}\n")
        return "250 OK"


def _serve(path: str) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Recorder(path), hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    signal.sigwait({signal.SIGTERM})
    controller.stop()


def start_smtp(path: str) -> multiprocessing.Process:
    """The SMTP server in its own process, as bench/send_smtp.py runs it: sharing this
    driver's GIL would delay its replies, and a reply not read yet is exactly the
    moment a kill turns into a duplicate."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # inherited: for sigwait
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(path,))
    process.start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", SMTP_PORT), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the SMTP server did not start")


def received(path: str) -> list[tuple[str, str]]:
    with open(path) as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f if "\t" in line]  # type: ignore[misc]


def start_redis() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        ping = subprocess.run(
            ["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True
        )
        if "PONG" in ping.stdout:
            return process
        time.sleep(0.1)
    raise RuntimeError("redis did not start")


def worker_env() -> dict[str, str]:
    return {
        **os.environ,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(SMTP_PORT),
        "DIGEST_SEND_RATE_PER_SECOND": RATE,
        "SECRET_KEY": "bench-kills-secret-key-0123456789-abcdefghijklmnop",
    }


def start_worker(name: str) -> subprocess.Popen[bytes]:
    celery = str(Path(sys.executable).with_name("celery"))
    return subprocess.Popen(
        [
            celery,
            "-A",
            "config.celery_app",
            "worker",
            "--pool=prefork",
            "-c",
            "1",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=ERROR",
        ],
        cwd=WORKER_TREE,
        env=worker_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def sweep() -> None:
    from digest.sending import delivery_sweep_stuck

    try:
        delivery_sweep_stuck(timeout=SWEEP_LEASE)
    except Exception as exc:  # Redis restarting: beat would try again next minute
        print(f"  sweep failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def main() -> None:
    import django

    fd, log = tempfile.mkstemp(prefix="harden-kills-", suffix=".tsv")
    os.close(fd)
    smtp = start_smtp(log)  # forked before Django opens any connection
    django.setup()
    from django.db import close_old_connections

    from bench.build_run import DAY, setup_data
    from digest import editions
    from digest.models import Delivery, DigestRun
    from digest.sending.runs import queue_chunks
    from digest.sending.sweeper import HANDED_OVER_NOTE

    setup_data(READERS, 60)
    run = editions.digest_run_build(day=DAY)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    ids = list(Delivery.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))
    emails = set(Delivery.objects.filter(run=run).values_list("subscriber__email", flat=True))

    redis = start_redis()
    workers = {"a": start_worker("a"), "b": start_worker("b")}
    started = time.monotonic()
    kills = redis_restarts = 0
    try:
        queue_chunks(ids)
        next_kill = KILL_EVERY
        last_sweep = time.monotonic()
        while True:
            close_old_connections()
            left = Delivery.objects.filter(run=run, status__in=["planned", "sending"]).count()
            if not left:
                break
            if time.monotonic() - started > 600:
                raise SystemExit(f"gave up: {left} deliveries left")
            now = time.monotonic()
            count = len(received(log))
            if kills < KILLS and count >= next_kill:
                name = "ab"[kills % 2]
                os.killpg(workers[name].pid, signal.SIGKILL)
                workers[name].wait(10)
                workers[name] = start_worker(name)
                kills += 1
                next_kill = count + KILL_EVERY
                print(
                    f"  kill {kills} ({name}) at {now - started:.1f} s, {count} received",
                    file=sys.stderr,
                )
                if kills == KILLS // 2 and not redis_restarts:
                    redis.kill()
                    redis.wait(10)
                    time.sleep(1.0)
                    redis = start_redis()
                    redis_restarts += 1
                    print(
                        f"  redis restarted at {time.monotonic() - started:.1f} s", file=sys.stderr
                    )
            if now - last_sweep >= 3.0:
                sweep()
                last_sweep = now
            time.sleep(0.2)
        time.sleep(2.0)  # the last messages' verdicts
    finally:
        for process in workers.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(20)
        redis.terminate()
        redis.wait(10)
        smtp.terminate()
        smtp.join(10)

    messages = received(log)
    os.unlink(log)
    counts = Counter(rcpt for rcpt, _ in messages)
    missing = emails - set(counts)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    same_id = all(
        len({mid for r, mid in messages if r == rcpt}) == 1 for rcpt, n in counts.items() if n > 1
    )
    statuses = Counter(Delivery.objects.filter(run=run).values_list("status", flat=True))
    flagged = Delivery.objects.filter(run=run, needs_reconciliation=True).count()
    # Of those, the ones whose message had left in full (counted as sent, not resent).
    handed_over = Delivery.objects.filter(run=run, last_error=HANDED_OVER_NOTE).count()
    print(f"load average: {os.getloadavg()}; workers from {WORKER_TREE}")
    print(
        f"{READERS} readers, {kills} SIGKILLs, {redis_restarts} Redis restart(s), "
        f"{time.monotonic() - started:.1f} s: {len(messages)} messages received, "
        f"missing {len(missing)}, duplicates {duplicates} (same Message-ID: {same_id}), "
        f"swept for reconciliation {flagged} (handed over, not resent: {handed_over}), "
        f"statuses {dict(statuses)}"
    )


if __name__ == "__main__":
    main()
