"""throttle.py: the global send rate, shared by every worker."""

from __future__ import annotations

import pytest

from digest.sending import throttle


@pytest.mark.parametrize("rate", [50.0])
def test_the_global_rate_limit_spreads_sends_over_windows(rate, settings, monkeypatch):
    settings.DIGEST_SEND_RATE_PER_SECOND = rate
    clock = {"t": 1000.0}
    monkeypatch.setattr(throttle.time, "time", lambda: clock["t"])
    monkeypatch.setattr(throttle.time, "sleep", lambda s: clock.__setitem__("t", clock["t"] + s))
    for _ in range(120):
        throttle.throttle()
    assert 2.0 <= clock["t"] - 1000.0 < 3.0  # 120 sends at 50/s take 3 windows


def test_the_rate_limit_reserves_tokens_in_blocks_and_stays_global(settings, monkeypatch):
    from django.core.cache import cache

    settings.DIGEST_SEND_RATE_PER_SECOND = 1000.0
    clock = {"t": 5000.0}
    monkeypatch.setattr(throttle.time, "time", lambda: clock["t"])
    monkeypatch.setattr(throttle.time, "sleep", lambda s: clock.__setitem__("t", clock["t"] + s))
    increments = []
    real_incr = cache.incr
    monkeypatch.setattr(cache, "incr", lambda *a, **k: increments.append(1) or real_incr(*a, **k))
    # Three workers (each its own token state) share the cache's counter.
    workers = [throttle._Tokens() for _ in range(3)]
    sends_in_first_window = 0
    for i in range(1500):
        monkeypatch.setattr(throttle, "_tokens", workers[i % 3])
        throttle.throttle()
        sends_in_first_window += clock["t"] < 5001.0
    assert sends_in_first_window <= 1000  # never more than the window's allowance
    assert 1.0 <= clock["t"] - 5000.0 < 2.0
    assert len(increments) <= 1500 // throttle.RATE_BLOCK_MAX + 6  # ~1 per block
