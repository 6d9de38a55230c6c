"""Rate limits for the public forms, counted in the cache (Redis in production).

A limit is a counter per key (the visitor's IP, or an address) in a fixed window that
starts at its first attempt. The per-address limit counts attempts for an address whether
or not it is subscribed, so hitting it reveals nothing about who is on the list.

On Redis, one form post's limits are one round trip: a Lua script counts the IP and, only
if the IP is under its limit, the address (django-ratelimit took two or three commands
per limit, and Django's Redis cache builds a client object for each: about a tenth of a
signup's CPU). Other caches (development) count with the cache API. A cache that is down
limits nothing: the pages keep working rather than answer 500.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
KEY_PREFIX = "rl"


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    seconds: int


def parse_rate(rate: str) -> Rate:
    """ "10/h", "120/m", "100/5m" (django-ratelimit's notation): attempts per window."""
    match = _RATE.match(rate)
    if match is None:
        raise ValueError(f"not a rate: {rate!r} (write it like 10/h or 100/5m)")
    count, multiple, unit = match.groups()
    return Rate(limit=int(count), seconds=int(multiple or 1) * _UNIT_SECONDS[unit[0]])


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's address; behind N trusted proxies, the Nth from the right in XFF."""
    proxies = settings.SUBSCRIPTIONS_TRUSTED_PROXY_COUNT
    forwarded = request.headers.get("x-forwarded-for", "")
    candidate = request.META.get("REMOTE_ADDR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    return _valid_ip(candidate)


def _valid_ip(value: str) -> str | None:
    # The consent record stores it in a GenericIPAddressField: garbage must not crash.
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def ip_limited(request: HttpRequest, *, group: str, rate: str) -> bool:
    """Count this request against its IP; True once the IP is over the rate."""
    return form_post_limited(request, group=group, ip_rate=rate) is not None


def address_limited(request: HttpRequest, *, group: str, email: str, rate: str) -> bool:
    """Count this request against an (already normalised) address."""
    key = _key(group, "email", email.lower())
    return _count([(key, parse_rate(rate))]) is not None


def form_post_limited(
    request: HttpRequest,
    *,
    group: str,
    ip_rate: str,
    email: str | None = None,
    email_rate: str = "",
) -> str | None:
    """Count one form post against its IP and, if the IP is under its limit and ``email``
    is given, against the address: "ip" or "email" for the limit it is over, else None."""
    ip = client_ip(request) or "unknown"
    counters = [(_key(group, "ip", ip), parse_rate(ip_rate))]
    if email is not None:
        counters.append((_key(group, "email", email.lower()), parse_rate(email_rate)))
    over = _count(counters)
    return None if over is None else ("ip", "email")[over]


def _key(group: str, kind: str, value: str) -> str:
    # Hashed: no address or IP in the cache's key space.
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:{group}.{kind}:{digest}"


# KEYS: the counters, in order; ARGV: limit and window (seconds) of each. Counts each in
# turn and stops at the first over its limit (the later ones are not counted): returns
# its 1-based position, or 0.
_COUNT_SCRIPT = """
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
  if n > tonumber(ARGV[2 * i - 1]) then return i end
end
return 0
"""


def _count(counters: list[tuple[str, Rate]]) -> int | None:
    """Count each counter in turn; the index of the first one over its limit, or None."""
    try:
        script = _redis_script()
        if script is not None:
            args = [n for _key, rate in counters for n in (rate.limit, rate.seconds)]
            over = int(script(keys=[key for key, _rate in counters], args=args))
            return over - 1 if over else None
        return _count_with_cache_api(counters)
    except Exception:
        # The cache is down: the pages keep working, unlimited, rather than answer 500.
        logger.warning("rate limit cache unavailable; not limited", exc_info=True)
        return None


def _count_with_cache_api(counters: list[tuple[str, Rate]]) -> int | None:
    for index, (key, rate) in enumerate(counters):
        if cache.add(key, 1, rate.seconds):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.set(key, 1, rate.seconds)
                count = 1
        if count > rate.limit:
            return index
    return None


_scripts: dict[str, Any] = {}
_scripts_lock = threading.Lock()


def _redis_script() -> Any:
    """The counting script bound to the cache's Redis (one client per process and
    location), or None when the cache is not Redis."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    location = config["LOCATION"]
    # As Django's cache reads it: a list, or servers split by , or ; (the first writes).
    url = (re.split("[;,]", location) if isinstance(location, str) else location)[0]
    script = _scripts.get(url)
    if script is None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        script = client.register_script(_COUNT_SCRIPT)
        with _scripts_lock:
            _scripts[url] = script
    return script
