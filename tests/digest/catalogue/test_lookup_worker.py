"""The lookup step through a real Celery worker on the real broker: it waits for the
sources queued with it, by retrying itself, then runs."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from digest.models import FetchRun
from digest.tasks import fetch as fetch_tasks
from digest.tasks import lookup_categories

pytestmark = pytest.mark.worker

DAY = date(2026, 7, 1)


def _wait_for(predicate, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("the worker did not finish in time")


def test_the_lookup_retries_until_the_source_queued_with_it_has_finished(
    celery_worker, monkeypatch
):
    monkeypatch.setattr(fetch_tasks, "LOOKUP_WAIT_SECONDS", 1)
    since = datetime.now(UTC)
    source_run = FetchRun.objects.create(source="hf_api", day=DAY)  # still running

    lookup_categories.delay(DAY.isoformat(), ["hf_api"], since.isoformat())
    time.sleep(3)
    assert not FetchRun.objects.filter(source="arxiv_api").exists()  # still waiting
    source_run.status = FetchRun.Status.OK
    source_run.finished_at = timezone.now()
    source_run.save()

    _wait_for(lambda: FetchRun.objects.filter(source="arxiv_api", status="ok").exists())
    lookup = FetchRun.objects.get(source="arxiv_api")
    assert lookup.started_at > source_run.finished_at
