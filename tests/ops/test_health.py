"""/healthz answers while the process serves; /readyz checks the database, cache and broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from digest.models import FetchRun
from ops import health
from ops.models import Heartbeat

CLOSED_PORT = 8499  # in this project's port range; nothing listens there


@pytest.fixture
def redis_unreachable(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{CLOSED_PORT}/0",
        }
    }


@pytest.fixture
def broker_unreachable():
    from config.celery_app import app

    previous = app.conf.broker_url, app.conf.broker_write_url
    app.conf.broker_url = app.conf.broker_write_url = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    yield
    app.conf.broker_url, app.conf.broker_write_url = previous


def test_healthz_answers_200_without_touching_any_dependency(client, redis_unreachable):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


def test_healthz_takes_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_readyz_is_200_when_everything_answers_and_reports_the_ages(client, db):
    FetchRun.objects.create(
        source="hf_api",
        day=timezone.localdate(),
        status="ok",
        finished_at=timezone.now() - timedelta(hours=2),
    )
    FetchRun.objects.create(source="hf_page", day=timezone.localdate(), status="failed")
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(seconds=30))

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert body["checks"] == {
        "database": {"ok": True},
        "cache": {"ok": True},
        "broker": {"ok": True},
    }
    assert 7190 < body["last_successful_fetch_age_seconds"] < 7300
    assert 29 < body["beat_last_tick_age_seconds"] < 90


def test_readyz_reports_no_age_when_nothing_happened_yet(client, db):
    body = client.get("/readyz").json()
    assert body["last_successful_fetch_age_seconds"] is None
    assert body["beat_last_tick_age_seconds"] is None


def test_readyz_is_503_naming_the_cache_when_redis_is_unreachable(client, db, redis_unreachable):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["cache"]
    assert body["checks"]["cache"]["ok"] is False
    assert "Connection" in body["checks"]["cache"]["error"]
    assert body["checks"]["database"] == {"ok": True}


def test_readyz_is_503_naming_the_broker_when_it_is_unreachable(client, db, broker_unreachable):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


def test_a_worker_is_alive_while_its_heartbeat_is_recent():
    now = timezone.now()
    assert health.is_alive(now - timedelta(seconds=140), now=now)
    assert not health.is_alive(now - timedelta(seconds=160), now=now)
    assert not health.is_alive(None, now=now)
