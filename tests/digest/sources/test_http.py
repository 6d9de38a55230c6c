from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from digest.sources.base import SourceError
from digest.sources.http import HttpClient

URL = "https://huggingface.co/api/daily_papers"


@respx.mock
def test_it_sends_the_configured_user_agent(settings, sleeps):
    settings.DIGEST_USER_AGENT = "paper-digest/test (+https://example.com)"
    route = respx.get(URL).mock(return_value=httpx.Response(200, json=[]))

    HttpClient().get(URL)

    assert route.calls.last.request.headers["User-Agent"] == settings.DIGEST_USER_AGENT


@respx.mock
def test_it_retries_a_500_and_returns_the_200(sleeps):
    route = respx.get(URL).mock(side_effect=[httpx.Response(500), httpx.Response(200, json=["ok"])])

    response = HttpClient(retries=3).get(URL)

    assert response.json() == ["ok"]
    assert route.call_count == 2
    assert sleeps == [2.0]


@respx.mock
def test_it_backs_off_exponentially_on_timeouts_then_gives_up(sleeps):
    route = respx.get(URL).mock(side_effect=httpx.ConnectTimeout("timed out"))

    with pytest.raises(SourceError, match="failed after 4 attempt"):
        HttpClient(retries=3).get(URL)

    assert route.call_count == 4
    assert sleeps == [2.0, 4.0, 8.0]


@respx.mock
def test_it_waits_the_seconds_a_429_asks_for(sleeps):
    respx.get(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json=[]),
        ]
    )

    HttpClient(retries=2).get(URL)

    assert sleeps == [7.0]


@respx.mock
def test_it_understands_retry_after_as_an_http_date(sleeps):
    when = datetime.now(UTC) + timedelta(seconds=30)
    respx.get(URL).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}),
            httpx.Response(200, json=[]),
        ]
    )

    HttpClient(retries=1).get(URL)

    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30


@respx.mock
def test_it_gives_up_rather_than_block_on_a_very_long_retry_after(sleeps):
    route = respx.get(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))

    with pytest.raises(SourceError, match="Retry-After 3600s"):
        HttpClient(retries=3).get(URL)

    assert route.call_count == 1 and sleeps == []


@respx.mock
def test_it_does_not_retry_a_404(sleeps):
    route = respx.get(URL).mock(return_value=httpx.Response(404))

    with pytest.raises(SourceError, match="HTTP 404"):
        HttpClient(retries=3).get(URL)

    assert route.call_count == 1 and sleeps == []


@respx.mock
def test_it_uses_an_injected_sleep_function():
    waited: list[float] = []
    respx.get(URL).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200)])

    HttpClient(retries=1, sleep_func=waited.append).get(URL)

    assert waited == [2.0]
