"""Is the service ready, and are its background processes alive?

Readiness is three dependencies answering: the database, the cache (Redis in
production) and the Celery broker. Liveness of the background processes comes from
heartbeats (beat queues ops.tasks.heartbeat every minute, a worker runs it) and, where
the broker supports broadcasts (Redis), from pinging the workers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from digest.models import FetchRun
from ops.models import Heartbeat

logger = logging.getLogger(__name__)

BEAT, WORKER = "beat", "worker"
HEARTBEAT_SECONDS = 60  # the beat schedule's interval for ops.tasks.heartbeat
# Missing two beats and a bit: late is not dead (a busy worker runs the task late).
ALIVE_WITHIN = timedelta(seconds=2.5 * HEARTBEAT_SECONDS)
BROKER_TIMEOUT = 2.0
PING_TIMEOUT = 1.0
PING_CACHE_SECONDS = 30
_NO_BROADCAST = ("filesystem", "memory")  # kombu transports without fanout


@dataclass(frozen=True)
class Check:
    ok: bool
    error: str = ""


def heartbeat_record(*, name: str) -> None:
    try:
        Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})
    except Exception:  # a heartbeat must never break what it watches (beat's publishing)
        logger.warning("could not record the %s heartbeat", name, exc_info=True)


def heartbeat_at(name: str) -> datetime | None:
    return Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()


def is_alive(at: datetime | None, *, now: datetime | None = None) -> bool:
    return at is not None and (now or timezone.now()) - at <= ALIVE_WITHIN


def age_seconds(at: datetime | None, *, now: datetime | None = None) -> float | None:
    return None if at is None else round(((now or timezone.now()) - at).total_seconds(), 1)


def last_successful_fetch() -> datetime | None:
    """When the latest fetch that stored something (ok or partial) finished."""
    ok = FetchRun.objects.filter(status__in=[FetchRun.Status.OK, FetchRun.Status.PARTIAL])
    at: datetime | None = ok.aggregate(at=Max("finished_at"))["at"]
    return at


def _run(check: Callable[[], None]) -> Check:
    try:
        check()
    except Exception as exc:
        return Check(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
    return Check(ok=True)


def check_database() -> Check:
    def query() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    return _run(query)


def check_cache() -> Check:
    def round_trip() -> None:
        key, token = "ops:readyz", secrets.token_hex(8)
        cache.set(key, token, timeout=30)
        if cache.get(key) != token:
            raise RuntimeError("the value written was not read back")

    return _run(round_trip)


def check_broker() -> Check:
    def connect() -> None:
        with _app().connection_for_write(connect_timeout=BROKER_TIMEOUT) as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)

    return _run(connect)


def readiness() -> dict[str, Any]:
    """What /readyz answers: each dependency's check, and the background's ages."""
    checks = {"database": check_database(), "cache": check_cache(), "broker": check_broker()}
    failed = [name for name, check in checks.items() if not check.ok]
    body: dict[str, Any] = {
        "status": "ok" if not failed else "unavailable",
        "failed": failed,
        "checks": {
            name: {"ok": check.ok, **({"error": check.error} if check.error else {})}
            for name, check in checks.items()
        },
    }
    if checks["database"].ok:  # the ages live in the database
        now = timezone.now()
        body["last_successful_fetch_age_seconds"] = age_seconds(last_successful_fetch(), now=now)
        body["beat_last_tick_age_seconds"] = age_seconds(heartbeat_at(BEAT), now=now)
    return body


def queue_depth() -> dict[str, int] | None:
    """Messages waiting in the default queue; None when the broker can't be asked."""
    app = _app()
    queue = app.conf.task_default_queue
    try:
        with app.connection_for_read(connect_timeout=BROKER_TIMEOUT) as conn, conn.channel() as ch:
            try:
                return {queue: ch.queue_declare(queue=queue, passive=True).message_count}
            except Exception as exc:
                # Redis deletes an empty list, so an idle queue "does not exist".
                if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
                    return {queue: 0}
                raise
    except Exception:
        logger.warning("could not read the queue depth", exc_info=True)
        return None


def workers_answering() -> int | None:
    """How many workers answered a ping (cached briefly); None when the broker cannot
    broadcast (a first run's filesystem broker) or could not be asked."""
    cached = cache.get("ops:workers-answering", default="unset")
    if cached != "unset":
        return cached  # type: ignore[no-any-return]
    app = _app()
    if app.connection_for_read().transport_cls in _NO_BROADCAST:
        return None
    try:
        replies = app.control.inspect(timeout=PING_TIMEOUT).ping() or {}
        answering: int | None = len(replies)
    except Exception:
        logger.warning("could not ping the workers", exc_info=True)
        answering = None
    cache.set("ops:workers-answering", answering, timeout=PING_CACHE_SECONDS)
    return answering


def _app() -> Any:
    from config.celery_app import app

    return app
