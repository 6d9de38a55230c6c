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


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (celery.contrib.testing) consuming the real broker.

    The broker is settings.CELERY_BROKER_URL: Redis in CI and by default in tests. The
    worker runs in a thread of this process, against the test database.
    """
    from celery.contrib.testing.worker import start_worker

    from config.celery_app import app

    app.conf.task_always_eager = False
    # Connect first so a missing broker fails the test at once with a clear error.
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
    app.control.purge()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as w:
            yield w
    finally:
        app.conf.task_always_eager = True
