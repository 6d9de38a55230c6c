"""What the admin's front page shows: the day at a glance (read queries only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from digest.models import DigestRun, FetchRun
from digest.sources import enabled_source_names
from ops import charts, health, stats

CHARTS_CACHE_SECONDS = 60  # the 30-day charts read every delivery of the month
# The charts: title -> series names (from ops.stats.daily_stats), each drawn as a line.
CHARTS = {
    "Emails per day (by day sent)": ("sent", "delivered", "opened", "clicked"),
    "Problems per day": ("bounced", "complained", "unsubscribed"),
    "Readers per day": ("new readers", "confirmed"),
}


@dataclass(frozen=True)
class Edition:
    run: DigestRun
    funnel: dict[str, int]
    failed: int
    percent: int


@dataclass(frozen=True)
class Chart:
    title: str
    svg: SafeString
    days: list[date]
    rows: list[tuple[date, list[int]]]  # the same numbers as a table
    names: tuple[str, ...]


@dataclass(frozen=True)
class SourceStatus:
    name: str
    latest: FetchRun | None
    last_success_at: datetime | None

    @property
    def papers(self) -> int:
        return self.latest.new_count + self.latest.updated_count if self.latest else 0


def editions(*, today: date | None = None) -> tuple[date | None, list[Edition]]:
    """Today's editions, or the latest ones when none is dated today."""
    today = today or timezone.localdate()
    runs = DigestRun.objects.defer("papers")
    day = today if runs.filter(edition_date=today).exists() else None
    if day is None:
        day = runs.order_by("-edition_date").values_list("edition_date", flat=True).first()
    if day is None:
        return None, []
    return day, [_edition(run) for run in runs.filter(edition_date=day).order_by("frequency")]


def _edition(run: DigestRun) -> Edition:
    done = run.sent_count + run.failed_count + run.skipped_count
    percent = round(100 * done / run.planned_count) if run.planned_count else 0
    funnel = stats.delivery_funnel(deliveries=run.deliveries.all())
    return Edition(run=run, funnel=funnel, failed=run.failed_count, percent=percent)


def chart_list(*, today: date | None = None) -> list[Chart]:
    today = today or timezone.localdate()
    key = f"ops:dashboard-stats:{today.isoformat()}"
    daily = cache.get(key)
    if daily is None:
        daily = stats.daily_stats(today=today)
        cache.set(key, daily, timeout=CHARTS_CACHE_SECONDS)
    return [_chart(title, names, daily) for title, names in CHARTS.items()]


def _chart(title: str, names: tuple[str, ...], daily: stats.DailyStats) -> Chart:
    series = [charts.Series(name, daily.series[name]) for name in names]
    svg = charts.line_chart(title=title, days=daily.days, series=series)
    rows = [(day, [daily.series[name][i] for name in names]) for i, day in enumerate(daily.days)]
    return Chart(
        title=title,
        svg=mark_safe(svg),  # built by ops.charts, which escapes every text it writes
        days=daily.days,
        rows=rows,
        names=names,
    )


def source_list() -> list[SourceStatus]:
    """Each enabled source (and any other fetched lately): its latest fetch and last success."""
    names = list(enabled_source_names())
    seen = FetchRun.objects.order_by().values_list("source", flat=True).distinct()
    names += sorted(set(seen) - set(names))
    ok = Q(status__in=[FetchRun.Status.OK, FetchRun.Status.PARTIAL])
    result = []
    for name in names:
        runs = FetchRun.objects.filter(source=name).defer("skipped")
        latest = runs.order_by("-started_at").first()
        success = runs.filter(ok).order_by("-finished_at").values_list("finished_at", flat=True)
        result.append(SourceStatus(name=name, latest=latest, last_success_at=success.first()))
    return result


def background() -> dict[str, Any]:
    now = timezone.now()
    beat_at, worker_at = health.heartbeat_at(health.BEAT), health.heartbeat_at(health.WORKER)
    return {
        "queue_depth": health.queue_depth(),
        "workers_answering": health.workers_answering(),
        "worker_heartbeat_at": worker_at,
        "worker_alive": health.is_alive(worker_at, now=now),
        "beat_heartbeat_at": beat_at,
        "beat_alive": health.is_alive(beat_at, now=now),
    }


def dashboard_context() -> dict[str, Any]:
    day, edition_list = editions()
    return {
        "edition_day": day,
        "edition_is_today": day == timezone.localdate(),
        "editions": edition_list,
        "charts": chart_list(),
        "sources": source_list(),
        "background": background(),
        "suppressions": stats.suppression_counts(),
    }
