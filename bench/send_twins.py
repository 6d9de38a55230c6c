"""A/B the sending path's "fast twins" against their plain paths, per email, in one run.

Each pair runs in this process, alternating A and B, --runs times (median reported), on
a renderer of --papers real papers with 10 picks per email (as in a sent edition):
  links    the hand-rolled HMAC of the old link builder (frozen below: it was deleted)
           vs a TimestampSigner per purpose, cached, vs subscriptions.tokens.make_token;
           four tokens per email (feedback, web version, manage, unsubscribe);
  mime     DigestEmail's PrebuiltMIME (digest/emails/mime.py) vs Django's
           EmailMultiAlternatives.message().as_bytes() for the same digest;
  throttle the block-reserving rate limiter (digest/sending/throttle.py) vs one cache
           add + incr per email (frozen below: it lost), at the default rate (0: off)
           and at a set rate; CPU and cache calls per email (needs REDIS_URL);
  render   what one email costs to render and turn into bytes, all in: the
           denominator for the 5 % rule beside the worker CPU of bench/send_smtp.py.
CPU is this process's (time.process_time), in microseconds per email.

    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/send_twins.py
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
PICKS = 10


def _per_email_us(fn: Callable[[int], object], n: int) -> float:
    started = time.process_time()
    for i in range(n):
        fn(i)
    return 1e6 * (time.process_time() - started) / n


def _ab(variants: dict[str, Callable[[int], object]], n: int, runs: int) -> dict[str, float]:
    """Median CPU µs per email of each variant; the variants alternate within each run."""
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            timings[name].append(_per_email_us(fn, n))
    return {name: round(statistics.median(t), 2) for name, t in timings.items()}


def _renderer(n_papers: int) -> tuple[Any, list[dict[str, Any]]]:
    from bench._papers import load_papers
    from digest.emails.digest import RunRenderer

    papers = {}
    for real in load_papers()[:n_papers]:
        c = real.candidate
        papers[c.arxiv_id] = {
            "title": c.title,
            "url": f"https://huggingface.co/papers/{c.arxiv_id}",
            "authors": ", ".join(c.authors[:3]),
            "organization": "",
            "upvotes": c.upvotes,
            "summary": c.abstract[:280],
            "arxiv_url": f"https://arxiv.org/abs/{c.arxiv_id}",
            "pdf_url": f"https://arxiv.org/pdf/{c.arxiv_id}",
            "code_url": "",
            "stars": None,
            "project_url": "",
        }
    renderer = RunRenderer(
        run_id=1, edition_date=date(2026, 11, 17), frequency="daily", papers=papers
    )
    ids = list(papers)
    picks = [
        [
            {"arxiv_id": ids[(i * 7 + k) % len(ids)], "score": 1.0, "reason": "matches “llm”"}
            for k in range(PICKS)
        ]
        for i in range(50)
    ]
    return renderer, picks


def _subscriber(i: int) -> Any:
    from subscriptions.models import Subscriber

    return Subscriber(pk=i + 1, email=f"reader{i}@example.com", token_version=1)


class _HandRolledLinks:
    """The deleted fast twin: TimestampSigner's HMAC, its key derived once per purpose."""

    def __init__(self) -> None:
        from django.core import signing

        from subscriptions import tokens

        self.signing = signing
        self.keys = {}
        for purpose in tokens.Purpose:
            signer = signing.TimestampSigner(salt=tokens.salt(purpose))
            key_salt = f"{signer.salt}signer".encode()
            self.keys[purpose] = hashlib.sha256(key_salt + signer.key.encode()).digest()

    def token(self, subscriber: Any, purpose: Any, extra: str, timestamp: str) -> str:
        value = f"{subscriber.pk}.{subscriber.token_version}"
        if extra:
            value = f"{value}.{extra}"
        value = f"{value}:{timestamp}"
        mac = hmac.new(self.keys[purpose], value.encode(), hashlib.sha256).digest()
        return f"{value}:{self.signing.b64_encode(mac).decode()}"


def bench_links(n: int, runs: int) -> dict[str, float]:
    from django.core import signing

    from subscriptions import tokens
    from subscriptions.tokens import Purpose

    purposes = [
        (Purpose.FEEDBACK, "12"),
        (Purpose.WEB_VERSION, "12"),
        (Purpose.MANAGE, ""),
        (Purpose.UNSUBSCRIBE, ""),
    ]
    subscribers = [_subscriber(i) for i in range(50)]
    hand = _HandRolledLinks()
    signers = {p: signing.TimestampSigner(salt=tokens.salt(p)) for p in Purpose}

    def hand_rolled(i: int) -> None:
        stamp = signing.b62_encode(int(time.time()))
        for purpose, extra in purposes:
            hand.token(subscribers[i % 50], purpose, extra, stamp)

    def cached_signer(i: int) -> None:
        s = subscribers[i % 50]
        for purpose, extra in purposes:
            value = f"{s.pk}.{s.token_version}" + (f".{extra}" if extra else "")
            signers[purpose].sign(value)

    def make_token(i: int) -> None:
        for purpose, extra in purposes:
            tokens.make_token(subscribers[i % 50], purpose, extra)

    variants = {"hand_rolled": hand_rolled, "cached_signer": cached_signer}
    return _ab({**variants, "tokens_make_token": make_token}, n, runs)


def bench_mime(n: int, runs: int) -> dict[str, float]:
    from django.core.mail import EmailMultiAlternatives

    renderer, picks = _renderer(300)
    messages = [
        renderer.message(
            delivery_id=i, message_id=f"<{i}@x>", subscriber=_subscriber(i), picks=picks[i]
        )
        for i in range(50)
    ]
    plain = []
    for m in messages:
        copy = EmailMultiAlternatives(
            m.subject, m.body, m.from_email, m.to, headers=m.extra_headers
        )
        copy.attach_alternative(*m.alternatives[0])
        plain.append(copy)
    return _ab(
        {
            "prebuilt_mime": lambda i: messages[i % 50].message().as_bytes(linesep="\r\n"),
            "django_mime": lambda i: plain[i % 50].message().as_bytes(linesep="\r\n"),
        },
        n,
        runs,
    )


def bench_render(n: int, runs: int) -> dict[str, float]:
    renderer, picks = _renderer(300)

    def one(i: int) -> None:
        message = renderer.message(
            delivery_id=i,
            message_id=f"<{i}@x>",
            subscriber=_subscriber(i % 50),
            picks=picks[i % 50],
        )
        message.message().as_bytes(linesep="\r\n")

    return _ab({"render_and_mime": one}, n, runs)


def _incr_per_email(rate: float, cache: Any) -> None:
    """The plain twin (not in the code: it lost): one cache add + incr per email."""
    if rate <= 0:
        return
    window = max(1.0, 1.0 / rate)
    allowed = max(1, int(rate * window))
    while True:
        now = time.time()
        slot = int(now / window)
        key = f"digest:send-rate:{slot}"
        cache.add(key, 0, timeout=int(window) + 5)
        try:
            if cache.incr(key) <= allowed:
                return
        except ValueError:
            continue
        time.sleep(max(0.0, (slot + 1) * window - now))


class _CountingCache:
    """The cache, counting its calls (an add is one Redis round trip, an incr two)."""

    def __init__(self, cache: Any) -> None:
        self.cache, self.calls = cache, 0

    def add(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.cache.add(*args, **kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.cache.incr(*args, **kwargs)


def bench_throttle(n: int, runs: int, rate: float) -> dict[str, float]:
    from django.conf import settings
    from django.core.cache import cache

    from digest.sending import throttle

    settings.DIGEST_SEND_RATE_PER_SECOND = rate
    counting = _CountingCache(cache)
    throttle.cache = counting  # type: ignore[attr-defined]
    try:
        out = _ab(
            {
                "block_reserving": lambda i: throttle.throttle(),
                "incr_per_email": lambda i: _incr_per_email(rate, counting),
            },
            n,
            runs,
        )
        for name, fn in (
            ("block_reserving", throttle.throttle),
            ("incr_per_email", lambda: _incr_per_email(rate, counting)),
        ):
            counting.calls = 0
            for _ in range(n):
                fn()
            out[f"{name}_cache_calls_per_email"] = round(counting.calls / n, 3)
    finally:
        throttle.cache = cache  # type: ignore[attr-defined]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100_000.0, help="the set rate (per s)")
    args = parser.parse_args()
    import django

    django.setup()
    n, runs = args.emails, args.runs
    print(json.dumps({"load_average": os.getloadavg(), "emails": n, "runs": runs}))
    print(json.dumps({"links_us_per_email": bench_links(n, runs)}))
    print(json.dumps({"mime_us_per_email": bench_mime(n, runs)}))
    print(json.dumps({"render_us_per_email": bench_render(n, runs)}))
    for rate in (0.0, args.rate):
        result = bench_throttle(n, runs, rate)
        print(json.dumps({"throttle_us_per_email": result, "rate_per_s": rate}))


if __name__ == "__main__":
    main()
