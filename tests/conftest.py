from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import PaperFactory, PaperTrendFactory, SubscriberFactory

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def subscriber_factory(db):
    return SubscriberFactory


@pytest.fixture
def paper_factory(db):
    return PaperFactory


@pytest.fixture
def paper_trend_factory(db):
    return PaperTrendFactory
