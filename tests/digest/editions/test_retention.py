"""Retention: old deliveries lose their scores and reasons, and nothing the service needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from digest import editions
from digest.editions import planning
from digest.models import Delivery, DigestRun, EditionPlan
from subscriptions.services import subscriber_export

NOW = datetime(2026, 11, 17, 3, 10, tzinfo=UTC)
PICKS = [
    {"arxiv_id": "2607.00001", "score": 0.91, "reason": "matches your interest: diffusion"},
    {"arxiv_id": "2607.00002", "score": 0.52, "reason": "trending today"},
]
COUNTS = (
    "planned_count",
    "rendered_count",
    "sent_count",
    "failed_count",
    "delivered_count",
    "opened_count",
    "clicked_count",
    "bounced_count",
    "complained_count",
    "skipped_count",
)


@pytest.fixture
def editions_by_age(subscriber_factory):
    readers = subscriber_factory.create_batch(3)
    runs = {}
    for age in (120, 30):
        run = DigestRun.objects.create(
            edition_date=NOW.date() - timedelta(days=age), status=DigestRun.Status.DONE
        )
        for reader, status in zip(readers, ["opened", "sent", "bounced"], strict=True):
            Delivery.objects.create(
                run=run,
                subscriber=reader,
                status=status,
                picks=PICKS,
                sent_at=NOW - timedelta(days=age),
                opened_at=NOW - timedelta(days=age) if status == "opened" else None,
            )
        editions.digest_run_refresh(run_id=run.pk)
        runs[age] = run
    return runs, readers


def _history(run):
    return list(
        Delivery.objects.filter(run=run)
        .order_by("pk")
        .values_list("subscriber_id", "status", "sent_at", "opened_at", "created_at")
    )


def _counts(run):
    return DigestRun.objects.filter(pk=run.pk).values(*COUNTS).get()


def test_it_keeps_only_the_papers_of_old_editions(editions_by_age):
    runs, _ = editions_by_age
    assert editions.digest_pick_details_drop(now=NOW, keep_days=90) == 1
    old = Delivery.objects.filter(run=runs[120]).values_list("picks", flat=True)
    assert list(old) == [[{"arxiv_id": "2607.00001"}, {"arxiv_id": "2607.00002"}]] * 3
    recent = Delivery.objects.filter(run=runs[30]).values_list("picks", flat=True)
    assert list(recent) == [PICKS] * 3
    runs[120].refresh_from_db()
    assert runs[120].details_dropped_at == NOW


def test_it_keeps_the_counts_the_history_and_the_exports(editions_by_age):
    runs, readers = editions_by_age
    counts, history = _counts(runs[120]), _history(runs[120])
    exports = [subscriber_export(subscriber=r)["deliveries"] for r in readers]
    assert counts["sent_count"] == 3
    assert counts["opened_count"] == 1

    editions.digest_pick_details_drop(now=NOW, keep_days=90)

    editions.digest_run_refresh(run_id=runs[120].pk)  # recounted from the rows
    assert _counts(runs[120]) == counts
    assert _history(runs[120]) == history
    assert [subscriber_export(subscriber=r)["deliveries"] for r in readers] == exports
    assert exports[0][0]["papers"] == ["2607.00001", "2607.00002"]


def test_the_admin_still_shows_an_old_email(editions_by_age, admin_client):
    runs, readers = editions_by_age
    editions.digest_pick_details_drop(now=NOW, keep_days=90)
    url = reverse("admin:digest_digestrun_preview", args=[runs[120].pk])
    response = admin_client.get(url, {"email": readers[0].email})
    assert response.status_code == 200
    response = admin_client.get(reverse("admin:digest_delivery_changelist"))
    assert response.status_code == 200


def test_old_papers_are_still_not_sent_again(editions_by_age):
    runs, readers = editions_by_age
    DigestRun.objects.filter(pk=runs[120].pk).update(
        papers={p["arxiv_id"]: {} for p in PICKS}, edition_date=NOW.date() - timedelta(days=50)
    )
    editions.digest_pick_details_drop(now=NOW, keep_days=10)
    today = DigestRun.objects.create(edition_date=NOW.date())
    sent = planning._already_sent(
        run=today, subscriber_ids={readers[0].pk}, arxiv_ids={"2607.00001", "2607.00003"}
    )
    assert sent == {readers[0].pk: {"2607.00001"}}


def test_a_second_pass_cuts_nothing_again_and_old_plans_go(editions_by_age, subscriber_factory):
    runs, _ = editions_by_age
    old_plan = EditionPlan.objects.create(run=runs[30], finished_at=NOW - timedelta(days=8))
    open_plan = EditionPlan.objects.create(run=runs[30], ranker=b"state")
    assert editions.digest_pick_details_drop(now=NOW, keep_days=90) == 1
    assert editions.digest_pick_details_drop(now=NOW, keep_days=90) == 0
    assert list(EditionPlan.objects.values_list("pk", flat=True)) == [open_plan.pk]
    assert not EditionPlan.objects.filter(pk=old_plan.pk).exists()


def test_the_job_runs_daily_on_beat_with_the_configured_age(editions_by_age, monkeypatch):
    from digest.tasks import drop_old_pick_details

    entry = settings.CELERY_BEAT_SCHEDULE["drop-old-pick-details"]
    assert entry["task"] == drop_old_pick_details.name
    monkeypatch.setattr(settings, "DIGEST_PICK_DETAIL_DAYS", 100)
    with time_machine.travel(NOW, tick=False):
        assert drop_old_pick_details.delay().get() == 1  # the 120-day-old edition only
