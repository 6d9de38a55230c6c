"""kombu's Redis transport, keeping one Redis client per channel.

kombu (5.7) builds a new ``redis.Redis`` client for every message it publishes
(``Channel.conn_or_acquire``), and redis-py's client constructor fills a table of ~170
response callbacks each time: about a quarter of each publish's CPU, 1.2 of 5.1 ms on a
loaded machine (docs/benchmarks.md, "Closing #16 and #17 on a faster machine"). The connection pool was already
shared; only the client object was not. A ``redis.Redis`` client takes a pooled
connection per command, so one client per channel is safe from several threads.

Selected by CELERY_BROKER_TRANSPORT (config/settings/base.py) for redis:// broker URLs;
everything else is kombu's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client or self._shared_client

    @cached_property
    def _shared_client(self) -> Any:
        return self._create_client()  # type: ignore[no-untyped-call]  # kombu: untyped


class Transport(kombu_redis.Transport):
    Channel = Channel
