"""The digest job through a real Celery worker on the real broker (Redis)."""

from __future__ import annotations

import time

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from digest.models import Delivery, DigestRun
from digest.tasks import send_due_digests
from tests.factories import PaperFactory, PaperTrendFactory, SubscriberFactory

pytestmark = pytest.mark.worker


def _wait_for(predicate, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("the worker did not finish in time")


def test_it_sends_the_due_digests_through_a_real_worker(celery_worker):
    cache.clear()
    today = timezone.now().date()
    for title in ("Diffusion models for video", "Retrieval-augmented generation at scale"):
        PaperTrendFactory(paper=PaperFactory(title=title), day=today)
    # Due right now: their local send hour is the current UTC hour.
    readers = SubscriberFactory.create_batch(3, timezone="UTC", send_hour=timezone.now().hour)

    result = send_due_digests.delay()
    assert result.id  # queued on the broker, not run eagerly

    def all_sent() -> bool:
        return Delivery.objects.filter(status=Delivery.Status.SENT).count() == len(readers)

    _wait_for(all_sent)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in readers)
    run = DigestRun.objects.get()
    _wait_for(lambda: DigestRun.objects.get(pk=run.pk).status == DigestRun.Status.DONE)
