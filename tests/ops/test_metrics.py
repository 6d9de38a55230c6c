"""/metrics: Prometheus text, behind a bearer token, counted from the database and broker."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from digest import editions, sending
from digest.models import Delivery, FetchRun, TrackingEvent
from ops.models import Heartbeat

DAY = date(2026, 11, 17)


def _samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _value(samples, name, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = "s3cret-token"
    return "s3cret-token"


@pytest.fixture
def edition(settings, subscriber_factory, paper_trend_factory):
    settings.DIGEST_REQUIRE_APPROVAL = True
    for i in range(3):
        paper_trend_factory(day=DAY, paper__title=f"Diffusion models, part {i}")
    subscriber_factory(email="ada@example.com")
    subscriber_factory(email="alan@example.com")
    return editions.digest_run_build(day=DAY)


def test_it_refuses_without_the_token_when_one_is_set(client, token, db):
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    basic = client.get("/metrics", headers={"Authorization": "Basic czNjcmV0LXRva2Vu"})
    assert basic.status_code == 401
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


def test_it_is_open_when_no_token_is_set(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200


def test_it_counts_a_real_send(client, token, edition, mailoutbox):
    auth = {"Authorization": f"Bearer {token}"}
    before = _samples(client.get("/metrics", headers=auth))
    assert _value(before, "digest_emails_sent_total") == 0
    assert _value(before, "digest_deliveries", status="planned") == 2
    assert _value(before, "digest_runs", status="awaiting_review") == 1
    assert _value(before, "digest_recent_claims") == 0
    assert ("digest_recent_claim_to_sent_seconds", (("quantile", "0.5"),)) not in before

    sending.digest_run_approve(run=edition, inline=True)  # the real send path, locmem backend
    assert len(mailoutbox) == 2

    after = _samples(client.get("/metrics", headers=auth))
    assert _value(after, "digest_emails_sent_total") == 2
    assert _value(after, "digest_emails_failed_total") == 0
    assert _value(after, "digest_claims_total") == 2
    assert _value(after, "digest_recent_claims") == 2
    slowest = max((d.sent_at - d.claimed_at).total_seconds() for d in Delivery.objects.all())
    assert _value(after, "digest_recent_claim_to_sent_seconds", quantile="1.0") == slowest
    assert 0 < _value(after, "digest_recent_claim_to_sent_seconds", quantile="0.5") <= slowest
    assert _value(after, "digest_send_rate_per_second") == pytest.approx(2 / 60)
    assert _value(after, "digest_runs", status="done") == 1


def test_it_counts_failures_fetches_webhook_events_and_suppressions(
    client, edition, subscriber_factory
):
    first, second = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=first.pk).update(status="failed", attempts=1)
    Delivery.objects.filter(pk=second.pk).update(status="opened", attempts=2)
    for i, kind in enumerate(["delivered", "opened", "opened"]):
        TrackingEvent.objects.create(event_id=f"e{i}", event_type=kind, delivery=second)
    finished = timezone.now() - timedelta(hours=1)
    FetchRun.objects.create(source="hf_api", day=DAY, status="ok", finished_at=finished)
    FetchRun.objects.create(source="hf_api", day=DAY, status="failed")
    FetchRun.objects.create(source="arxiv_rss", day=DAY, status="failed")
    subscriber_factory(status="unsubscribed").consents.create(unsubscribe_method="complaint")
    Heartbeat.objects.create(name="beat", at=finished)

    samples = _samples(client.get("/metrics"))

    assert _value(samples, "digest_emails_sent_total") == 1
    assert _value(samples, "digest_emails_failed_total") == 1
    assert _value(samples, "digest_claims_total") == 2  # one failed, one sent (and opened)
    assert _value(samples, "digest_fetch_runs_total", source="hf_api", status="ok") == 1
    assert _value(samples, "digest_fetch_runs_total", source="hf_api", status="failed") == 1
    assert _value(samples, "digest_fetch_runs_total", source="arxiv_rss", status="failed") == 1
    assert _value(
        samples, "digest_fetch_last_success_timestamp_seconds", source="hf_api"
    ) == pytest.approx(finished.timestamp())
    assert (
        "digest_fetch_last_success_timestamp_seconds",
        (("source", "arxiv_rss"),),
    ) not in samples
    assert _value(samples, "digest_webhook_events_total", type="opened") == 2
    assert _value(samples, "digest_webhook_events_total", type="delivered") == 1
    assert _value(samples, "digest_suppressions", reason="complaint") == 1
    assert _value(samples, "digest_suppressions", reason="bounce") == 0
    assert _value(samples, "digest_beat_last_heartbeat_timestamp_seconds") == pytest.approx(
        finished.timestamp()
    )


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_it_reports_the_broker_queue_depth(client, db):
    from config.celery_app import app

    app.control.purge()
    try:
        for _ in range(3):
            app.send_task("digest.tasks.sweep_stuck_deliveries")
        samples = _samples(client.get("/metrics"))
    finally:
        app.control.purge()
    assert _value(samples, "digest_queue_depth", queue="celery") == 3
