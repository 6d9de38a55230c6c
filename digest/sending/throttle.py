"""The global send rate (DIGEST_SEND_RATE_PER_SECOND), shared by every worker.

A fixed-window counter in the cache. Each worker reserves tokens in blocks (one INCRBY
per block, not per email): with a rate set, a cache add + incr per email cost ~0.8 ms
of CPU, a third of what sending an email costs (bench/send_twins.py).

When the cache fails (Redis down or restarting), sending goes on, paced by this process
alone at the configured rate, with a warning: a chunk never dies of it, so no delivery
waits for the sweep. Several workers together may then exceed the rate until the
cache is back.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)
RATE_BLOCK_MAX = 20  # tokens a worker reserves per cache round trip, at most


@dataclass
class _Tokens:
    window: tuple[float, int] = (0.0, -1)  # (window length, window number)
    left: int = 0


_tokens = _Tokens()
_tokens_lock = threading.Lock()
_local_next = [0.0]  # when this process may send next, while the cache fails


def throttle() -> None:
    """Return once this email may go: at most the rate's allowance per window, globally.

    The counter never passes the window's allowance, and a block's unused tokens expire
    with its window, so the limit holds for all workers together.
    """
    rate = settings.DIGEST_SEND_RATE_PER_SECOND
    if rate <= 0:
        return
    window = max(1.0, 1.0 / rate)
    allowed = max(1, int(rate * window))
    # A small share of the window, so one worker can't hoard what another could send.
    block = max(1, min(RATE_BLOCK_MAX, allowed // 20))
    while True:
        now = time.time()
        slot = int(now / window)
        with _tokens_lock:  # threads of one process (Celery's threads pool) share them
            if _tokens.window == (window, slot) and _tokens.left > 0:
                _tokens.left -= 1
                return
        key = f"digest:send-rate:{slot}"
        try:
            cache.add(key, 0, timeout=int(window) + 5)
            total = cache.incr(key, block)
        except ValueError:  # expired between add and incr
            continue
        except Exception as exc:  # the cache is down: pace this process alone
            _pace_locally(rate, exc)
            return
        granted = min(block, allowed - (total - block))
        if granted > 0:
            with _tokens_lock:
                _tokens.window, _tokens.left = (window, slot), granted - 1
            return
        time.sleep(max(0.0, (slot + 1) * window - now))


def _pace_locally(rate: float, exc: Exception) -> None:
    logger.warning("send-rate cache unavailable (%s): pacing this worker alone", exc)
    with _tokens_lock:
        now = time.monotonic()
        wait = _local_next[0] - now
        _local_next[0] = max(now, _local_next[0]) + 1.0 / rate
    if wait > 0:
        time.sleep(wait)
