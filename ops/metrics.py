"""Prometheus metrics, read from the database and the broker at scrape time.

Workers and beat run in other processes (other containers in compose), so counting in
the web process would miss them; the database is where every process's work ends up.
Counters here are counts of rows (emails that left, failed, claims, fetch runs, webhook
events): they only grow, except when old rows are deleted, which Prometheus reads as
a counter reset. One scrape costs one grouped pass over the deliveries and a few small
aggregate queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from digest.models import Delivery, DigestRun, FetchRun, TrackingEvent
from ops import health, stats
from subscriptions.models import Subscriber

Status = Delivery.Status
# Seconds from a delivery's claim to "sent" (the send, and the next email's claim that
# commits it): the exactly-once machinery's latency per email.
CLAIM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SEND_RATE_WINDOW = timedelta(seconds=60)


def registry() -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DigestCollector())
    return reg


class DigestCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _deliveries()
        yield _send_rate()
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
    latency = ExpressionWrapper(F("sent_at") - F("claimed_at"), output_field=DurationField())
    timed = Q(sent_at__isnull=False, claimed_at__isnull=False)
    buckets = {
        f"le_{i}": Count(
            "pk", filter=timed & Q(sent_at__lte=F("claimed_at") + timedelta(seconds=b))
        )
        for i, b in enumerate(CLAIM_BUCKETS)
    }
    rows = list(
        Delivery.objects.values("status")
        .annotate(
            n=Count("pk"),
            claims=Sum("attempts"),
            timed=Count("pk", filter=timed),
            latency=Sum(latency, filter=timed),
            **buckets,
        )
        .order_by()
    )
    by_status = {row["status"]: row["n"] for row in rows}
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
    yield CounterMetricFamily(
        "digest_claims",
        "Claims of deliveries (one per send attempt).",
        value=sum(row["claims"] or 0 for row in rows),
    )
    cumulative = [
        (str(b), sum(row[f"le_{i}"] for row in rows)) for i, b in enumerate(CLAIM_BUCKETS)
    ]
    total_seconds = sum((row["latency"] or timedelta()).total_seconds() for row in rows)
    yield HistogramMetricFamily(
        "digest_claim_to_sent_seconds",
        "Seconds from a delivery's claim to its email marked sent.",
        buckets=[*cumulative, ("+Inf", sum(row["timed"] for row in rows))],
        sum_value=total_seconds,
    )


def _send_rate() -> Metric:
    # Only runs that may have sent in the window: their (run, status) index keeps the
    # count off the whole table.
    since = timezone.now() - SEND_RATE_WINDOW
    runs = DigestRun.objects.filter(
        Q(status__in=[DigestRun.Status.SENDING, DigestRun.Status.PAUSED])
        | Q(finished_at__gte=since)
    ).values("pk")
    sent = Delivery.objects.filter(
        run_id__in=runs, status__in=Delivery.LEFT_STATUSES, sent_at__gte=since
    ).count()
    return GaugeMetricFamily(
        "digest_send_rate_per_second",
        "Emails sent per second over the last minute.",
        value=sent / SEND_RATE_WINDOW.total_seconds(),
    )


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
