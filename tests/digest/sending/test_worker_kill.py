"""Exactly once, for real: a Celery worker on the Redis broker is SIGKILLed mid-run.

The worker processes reach the test database through DATABASE_URL (PostgreSQL in CI;
with SQLite the in-memory test database is copied to a file and back) and send over
SMTP to an aiosmtpd server in this process, so every message that left is counted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from email import message_from_bytes
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings

from digest import editions
from digest.models import Delivery, DigestRun
from tests.digest.sending import smtp_sink
from tests.digest.sending.processes import Database, smtp_env, wait_until

# Celery lets CELERY_BROKER_URL in the environment win over Celery(broker=...), so the
# producer here and the worker must both use the environment's broker when it is set.
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
CACHE = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8")
SUBSCRIBERS = 300
CHUNK = 20
ROOT = Path(settings.BASE_DIR)

pytestmark = [pytest.mark.worker, pytest.mark.timeout(150)]


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message_id = message_from_bytes(envelope.content)["Message-ID"]
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt, message_id))
        return "250 OK"


@pytest.fixture
def smtp():
    recorder = Recorder()
    with smtp_sink.running(recorder) as port:
        yield recorder, port


def _env(db: Database, port: int, rate: int) -> dict[str, str]:
    return smtp_env(
        db,
        port,
        CELERY_BROKER_URL=BROKER,
        REDIS_URL=CACHE,
        DIGEST_SEND_RATE_PER_SECOND=str(rate),
        DIGEST_SEND_CHUNK_SIZE=str(CHUNK),
    )


def _start_worker(env: dict[str, str], name: str) -> subprocess.Popen:
    celery = str(Path(sys.executable).with_name("celery"))
    return subprocess.Popen(
        [celery, "-A", "config.celery_app", "worker", "--pool=prefork", "-c", "2",
         "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_worker_killed_mid_run_loses_nothing_and_repeats_at_most_the_message_in_flight(
    transactional_db, subscriber_factory, papers, day, smtp, tmp_path
):
    recorder, port = smtp
    for url in (BROKER, CACHE):
        redis.Redis.from_url(url).flushdb()
    subscribers = subscriber_factory.create_batch(SUBSCRIBERS)
    run = editions.digest_run_build(day=day)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    ids = list(Delivery.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))
    db = Database(tmp_path)
    db.push()

    producer = Celery(broker=BROKER)
    for start in range(0, len(ids), CHUNK):
        producer.send_task("digest.tasks.send_deliveries", args=[ids[start : start + CHUNK]])

    first = _start_worker(_env(db, port, rate=60), "first")
    try:
        assert wait_until(lambda: len(recorder.messages) >= SUBSCRIBERS // 3, timeout=40, poll=0.1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    received_at_kill = len(recorder.messages)
    assert received_at_kill < SUBSCRIBERS  # really killed mid-run

    # The periodic sweeper (timeout 0 here instead of DIGEST_SENDING_TIMEOUT_MINUTES).
    sweep = (
        "from datetime import timedelta; from digest.sending import delivery_sweep_stuck;"
        " delivery_sweep_stuck(timeout=timedelta(0))"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", sweep],
        cwd=ROOT, env=_env(db, port, rate=0), check=True, capture_output=True,
    )  # fmt: skip
    second = _start_worker(_env(db, port, rate=0), "second")
    try:
        everyone = {s.email for s in subscribers}
        assert wait_until(
            lambda: {r for r, _ in recorder.messages} >= everyone, timeout=60, poll=0.1
        )

        def finished() -> bool:
            db.pull()
            return DigestRun.objects.get(pk=run.pk).status == DigestRun.Status.DONE

        assert wait_until(finished, timeout=20, poll=0.1)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)
    db.pull()

    counts = Counter(rcpt for rcpt, _ in recorder.messages)
    assert set(counts) == everyone  # none missing
    repeated = {rcpt for rcpt, n in counts.items() if n > 1}
    assert len(repeated) <= 2  # at most the message in flight in each of the 2 processes
    flagged = set(
        Delivery.objects.filter(run=run, needs_reconciliation=True).values_list(
            "subscriber__email", flat=True
        )
    )
    assert repeated <= flagged
    for rcpt in repeated:  # a repeat carries the same Message-ID, for de-duplication
        assert len({mid for r, mid in recorder.messages if r == rcpt}) == 1
    statuses = Counter(Delivery.objects.filter(run=run).values_list("status", flat=True))
    assert statuses == {"sent": SUBSCRIBERS}
    assert DigestRun.objects.get(pk=run.pk).sent_count == SUBSCRIBERS
