"""The one HTTP client every source uses: timeouts, a descriptive User-Agent, retries.

Retries cover what is worth retrying (connection errors, timeouts, 429 and 5xx) with
exponential backoff, honouring ``Retry-After``. Anything else, or running out of
attempts, raises ``SourceError`` so the caller records a failed run instead of crashing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from django.conf import settings

from digest.sources.base import SourceError

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 60.0
# A Retry-After far in the future (HF sometimes says minutes) would block a worker;
# past this we give up and let the later beat retry pick it up.
RETRY_AFTER_MAX_SECONDS = 300.0


def sleep(seconds: float) -> None:
    """Indirection so tests can replace the wait (monkeypatch ``digest.sources.http.sleep``)."""
    time.sleep(seconds)


class HttpClient:
    def __init__(
        self,
        *,
        timeout: float | None = None,
        retries: int | None = None,
        user_agent: str | None = None,
        sleep_func: Callable[[float], None] | None = None,
    ) -> None:
        self.timeout = settings.DIGEST_HTTP_TIMEOUT if timeout is None else timeout
        self.retries = settings.DIGEST_HTTP_RETRIES if retries is None else retries
        self.user_agent = user_agent or settings.DIGEST_USER_AGENT
        self._sleep_func = sleep_func

    def get(self, url: str, *, params: Mapping[str, str] | None = None) -> httpx.Response:
        """GET with retries; returns a 2xx response or raises ``SourceError``."""
        attempts = max(self.retries, 0) + 1
        target = str(httpx.URL(url, params=params))  # for messages: which day failed
        with httpx.Client(
            timeout=self.timeout,
            headers={"User-Agent": self.user_agent},
            follow_redirects=True,
        ) as client:
            for attempt in range(1, attempts + 1):
                response, problem = _try_once(client, url, params, attempt=attempt)
                if response is not None:
                    return response
                assert problem is not None
                if attempt == attempts or problem.delay is None:
                    raise SourceError(f"GET {target} failed after {attempt} attempt(s): {problem}")
                logger.warning("GET %s: %s; retrying in %.1fs", target, problem, problem.delay)
                (self._sleep_func or sleep)(problem.delay)
        raise AssertionError("unreachable: the last attempt returns or raises")


class _Problem:
    """Why one attempt failed; ``delay`` is None when retrying is pointless."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        self.message = message
        self.delay = delay

    def __str__(self) -> str:
        return self.message


def _try_once(
    client: httpx.Client, url: str, params: Mapping[str, str] | None, *, attempt: int
) -> tuple[httpx.Response | None, _Problem | None]:
    backoff = min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS)
    try:
        response = client.get(url, params=params)
    except httpx.TransportError as exc:  # connection refused, DNS, timeouts, resets
        return None, _Problem(f"{type(exc).__name__}: {exc}".rstrip(": "), backoff)
    if response.is_success:
        return response, None
    if response.status_code == 429 or response.is_server_error:
        delay = _retry_after(response.headers.get("Retry-After"))
        if delay is not None and delay > RETRY_AFTER_MAX_SECONDS:
            return None, _Problem(f"HTTP {response.status_code}, Retry-After {delay:.0f}s")
        return None, _Problem(f"HTTP {response.status_code}", backoff if delay is None else delay)
    # Other 4xx: asking again will not help.
    return None, _Problem(f"HTTP {response.status_code}")


def _retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
