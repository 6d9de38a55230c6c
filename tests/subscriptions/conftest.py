from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, TestCase

from subscriptions.models import Subscriber


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters live in the cache (Redis in CI): no test may inherit another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def signup_data() -> dict[str, Any]:
    return {
        "email": "Ada.Lovelace@Example.COM",
        "interests": "diffusion models, retrieval-augmented generation",
        "categories": ["cs.LG", "cs.CL"],
        "liked_papers": "2501.01234\nhttps://arxiv.org/abs/2502.04321v2",
        "followed_authors": "Yann LeCun, Fei-Fei Li",
        "digest_size": "5",
        "frequency": "weekly",
        "weekday": "2",
        "send_hour": "8",
        "timezone": "Europe/Paris",
        "website": "",
    }


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def pending_subscriber(db) -> Subscriber:
    return Subscriber.objects.create(email="pending@example.com", interests="graph neural networks")


@contextmanager
def committed() -> Iterator[None]:
    """Run what the block queued on commit (the transactional emails' tasks) at its end,
    as the request's own commit would outside the test's transaction."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield
