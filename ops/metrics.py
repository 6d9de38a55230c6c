"""Prometheus metrics, read from the database and the broker at scrape time.

Workers and beat run in other processes (other containers in compose), so counting in
the web process would miss them; the database is where every process's work ends up.
Counters here are counts of rows (emails that left, failed, claims, fetch runs, webhook
events): they only grow, except when old rows are deleted, which Prometheus reads as
a counter reset. One scrape costs a count of the deliveries by status (from its index), queries
on the last hour's sends, and small aggregates on the other tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from digest.models import Delivery, DigestRun, FetchRun, TrackingEvent
from ops import health, stats
from subscriptions.models import Subscriber

Status = Delivery.Status
SEND_RATE_WINDOW = timedelta(seconds=60)
# Seconds from a delivery's claim to "sent" (the send, and the next email's claim that
# commits it): the exactly-once machinery's latency per email, over the last hour's
# sends (gauges: a cumulative histogram over every delivery ever would read the whole
# table at each scrape).
LATENCY_WINDOW = timedelta(hours=1)
LATENCY_QUANTILES = (0.5, 0.9, 0.99, 1.0)


def registry() -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DigestCollector())
    return reg


class DigestCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _deliveries()
        yield from _send_rate()
        yield GaugeMetricFamily(
            "digest_send_rate_limit_per_second",
            "DIGEST_SEND_RATE_PER_SECOND (0: no limit).",
            value=settings.DIGEST_SEND_RATE_PER_SECOND,
        )
        yield from _fetches()
        yield _webhook_events()
        yield from _readers()
        yield _runs()
        yield from _background()


def _deliveries() -> Iterator[Metric]:
    # One GROUP BY status: PostgreSQL answers it from the status index.
    by_status = dict(Delivery.objects.values_list("status").annotate(n=Count("pk")).order_by())
    left = sum(by_status.get(s, 0) for s in Delivery.LEFT_STATUSES)
    yield CounterMetricFamily(
        "digest_emails_sent", "Digest emails that left (accepted by the email backend).", value=left
    )
    yield CounterMetricFamily(
        "digest_emails_failed",
        "Digest emails whose send failed (until sent again).",
        value=by_status.get(Status.FAILED, 0),
    )
    per_status = GaugeMetricFamily(
        "digest_deliveries", "Deliveries by current status.", labels=["status"]
    )
    for status in Status.values:
        per_status.add_metric([status], by_status.get(status, 0))
    yield per_status
    claimed = left + by_status.get(Status.FAILED, 0) + by_status.get(Status.SENDING, 0)
    yield CounterMetricFamily(
        "digest_claims",
        "Deliveries claimed for sending (now sending, sent or failed).",
        value=claimed,
    )


def _recent_runs(since: datetime) -> QuerySet[DigestRun]:
    # Runs that may have sent since ``since``: their (run, status) index keeps the
    # queries below off the whole deliveries table.
    return DigestRun.objects.filter(
        Q(status__in=[DigestRun.Status.SENDING, DigestRun.Status.PAUSED])
        | Q(finished_at__gte=since)
    )


def _send_rate() -> Iterator[Metric]:
    now = timezone.now()
    since = now - SEND_RATE_WINDOW
    sent = Delivery.objects.filter(
        run_id__in=_recent_runs(since).values("pk"),
        status__in=Delivery.LEFT_STATUSES,
        sent_at__gte=since,
    ).count()
    yield GaugeMetricFamily(
        "digest_send_rate_per_second",
        "Emails sent per second over the last minute.",
        value=sent / SEND_RATE_WINDOW.total_seconds(),
    )
    latencies = sorted(_claim_latencies(now - LATENCY_WINDOW))
    yield GaugeMetricFamily(
        "digest_recent_claims",
        "Emails claimed and sent in the last hour.",
        value=len(latencies),
    )
    quantiles = GaugeMetricFamily(
        "digest_recent_claim_to_sent_seconds",
        "Seconds from a delivery's claim to its email marked sent, over the last hour.",
        labels=["quantile"],
    )
    for q in LATENCY_QUANTILES:
        if latencies:
            quantiles.add_metric(
                [str(q)], latencies[min(len(latencies) - 1, int(q * len(latencies)))]
            )
    yield quantiles


def _claim_latencies(since: datetime) -> list[float]:
    rows = Delivery.objects.filter(
        run_id__in=_recent_runs(since).values("pk"),
        status__in=Delivery.LEFT_STATUSES,
        sent_at__gte=since,
        claimed_at__isnull=False,
    ).values_list("claimed_at", "sent_at")
    return [
        (sent - claimed).total_seconds()
        for claimed, sent in rows.iterator(chunk_size=5000)
        if sent is not None and claimed is not None
    ]


def _fetches() -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "digest_fetch_runs", "Fetch runs by source and result.", labels=["source", "status"]
    )
    for row in FetchRun.objects.values("source", "status").annotate(n=Count("pk")).order_by():
        runs.add_metric([row["source"], row["status"]], row["n"])
    yield runs
    last = GaugeMetricFamily(
        "digest_fetch_last_success_timestamp_seconds",
        "When each source's latest ok or partial fetch finished (Unix time).",
        labels=["source"],
    )
    finished = (
        FetchRun.objects.filter(status__in=[FetchRun.Status.OK, FetchRun.Status.PARTIAL])
        .values("source")
        .annotate(at=Max("finished_at"))
        .order_by()
    )
    for row in finished:
        if row["at"] is not None:
            last.add_metric([row["source"]], row["at"].timestamp())
    yield last


def _webhook_events() -> Metric:
    events = CounterMetricFamily(
        "digest_webhook_events", "ESP webhook events stored, by type.", labels=["type"]
    )
    for row in TrackingEvent.objects.values("event_type").annotate(n=Count("pk")).order_by():
        events.add_metric([row["event_type"]], row["n"])
    return events


def _readers() -> Iterator[Metric]:
    suppressed = stats.suppression_counts()
    gauge = GaugeMetricFamily(
        "digest_suppressions",
        "Readers suppressed now, by reason (hard bounce, complaint).",
        labels=["reason"],
    )
    gauge.add_metric(["bounce"], suppressed["bounce"])
    gauge.add_metric(["complaint"], suppressed["complaint"])
    yield gauge
    yield GaugeMetricFamily(
        "digest_soft_bouncing_readers",
        "Active readers with soft bounces counting towards DIGEST_SOFT_BOUNCE_LIMIT.",
        value=suppressed["soft_bouncing"],
    )
    readers = GaugeMetricFamily("digest_subscribers", "Readers by status.", labels=["status"])
    counts = dict(Subscriber.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in Subscriber.Status.values:
        readers.add_metric([status], counts.get(status, 0))
    yield readers


def _runs() -> Metric:
    gauge = GaugeMetricFamily(
        "digest_runs", "Editions by status (alert on paused).", labels=["status"]
    )
    counts = dict(DigestRun.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in DigestRun.Status.values:
        gauge.add_metric([status], counts.get(status, 0))
    return gauge


def _background() -> Iterator[Metric]:
    depth = health.queue_depth()
    if depth is not None:
        gauge = GaugeMetricFamily(
            "digest_queue_depth", "Tasks waiting in the broker queue.", labels=["queue"]
        )
        for queue, n in depth.items():
            gauge.add_metric([queue], n)
        yield gauge
    for name, help_text in (
        (health.BEAT, "When Celery beat last queued the heartbeat task (Unix time)."),
        (health.WORKER, "When a worker last ran the heartbeat task (Unix time)."),
    ):
        at = health.heartbeat_at(name)
        if at is not None:
            yield GaugeMetricFamily(
                f"digest_{name}_last_heartbeat_timestamp_seconds", help_text, value=at.timestamp()
            )
