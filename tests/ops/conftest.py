from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.cache import cache

from digest.emails import digest as emails


@pytest.fixture(autouse=True)
def _clean_state():
    # The cache is Redis in CI: the dashboard's cached charts and pings must not leak.
    cache.clear()
    emails._renderers.clear()
    yield
    cache.clear()


def at(day, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
