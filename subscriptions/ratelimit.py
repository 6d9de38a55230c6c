"""Rate limits for the public forms, counted in the cache (Redis in production).

django-ratelimit does the counting; these helpers only choose the keys. The per-address
limit counts attempts for an address whether or not it is subscribed, so hitting it
reveals nothing about who is on the list.
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

logger = logging.getLogger(__name__)


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
    ip = client_ip(request) or "unknown"
    return _limited(request, group=f"{group}.ip", value=ip, rate=rate)


def address_limited(request: HttpRequest, *, group: str, email: str, rate: str) -> bool:
    """Count this request against an (already normalised) address."""
    return _limited(request, group=f"{group}.email", value=email.lower(), rate=rate)


def _limited(request: HttpRequest, *, group: str, value: str, rate: str) -> bool:
    try:
        return bool(
            is_ratelimited(
                request, group=group, key=lambda _group, _request: value, rate=rate, increment=True
            )
        )
    except Exception:
        # The cache is down: the pages keep working, unlimited, rather than answer 500.
        logger.warning("rate limit cache unavailable; %s not limited", group, exc_info=True)
        return False
