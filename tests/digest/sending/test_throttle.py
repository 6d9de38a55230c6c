"""throttle.py: the global send rate, shared by every worker."""

from __future__ import annotations

import time
from unittest import mock

import pytest
import redis

from digest import editions, sending
from digest.models import Delivery, DigestRun
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


class _DownCache:
    def add(self, *args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    incr = add


def test_a_cache_outage_paces_this_process_alone_with_a_warning(settings, monkeypatch):
    settings.DIGEST_SEND_RATE_PER_SECOND = 50.0
    monkeypatch.setattr(throttle, "cache", _DownCache())
    monkeypatch.setattr(throttle, "_tokens", throttle._Tokens())
    # The module's logger itself: another test's logging config may have disabled it.
    logger = mock.Mock()
    monkeypatch.setattr(throttle, "logger", logger)
    started = time.monotonic()
    for _ in range(11):
        throttle.throttle()  # never raises
    assert time.monotonic() - started >= 10 / 50 * 0.9  # still at most the rate
    assert "send-rate cache unavailable" in logger.warning.call_args.args[0]


def test_a_cache_outage_mid_chunk_sends_every_delivery(
    subscriber_factory, papers, day, settings, monkeypatch, mailoutbox
):
    settings.DIGEST_SEND_RATE_PER_SECOND = 20.0  # one token per cache round trip
    monkeypatch.setattr(throttle, "_tokens", throttle._Tokens())
    subscriber_factory.create_batch(6)
    run = editions.digest_run_build(day=day)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    ids = list(Delivery.objects.filter(run=run).values_list("pk", flat=True))
    calls = {"n": 0}
    real = throttle.throttle

    def fails_after_two() -> None:  # Redis goes away during the chunk
        calls["n"] += 1
        if calls["n"] == 3:
            monkeypatch.setattr(throttle, "cache", _DownCache())
        real()

    monkeypatch.setattr("digest.sending.sender.throttle", fails_after_two)
    result = sending.delivery_send_chunk(delivery_ids=ids)
    assert (result.sent, result.failed) == (6, 0)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
