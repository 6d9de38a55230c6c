"""Read queries over fetch runs: which sources still owe a day its papers."""

from __future__ import annotations

from datetime import date

from digest.models import FetchRun
from digest.sources import enabled_source_names


def sources_to_refetch(*, day: date) -> list[str]:
    """Enabled sources whose latest run for ``day`` failed, was cut short (partial),
    found nothing, or never ran."""
    latest: dict[str, FetchRun] = {}
    for run in FetchRun.objects.filter(day=day).order_by("started_at", "pk"):
        latest[run.source] = run
    return [name for name in enabled_source_names() if _needs_refetch(latest.get(name))]


def _needs_refetch(run: FetchRun | None) -> bool:
    # A partial run (a truncated feed) may have missed papers a whole one would bring.
    if run is None or run.status in (FetchRun.Status.FAILED, FetchRun.Status.PARTIAL):
        return True
    # An empty run usually means the upstream had not published the day yet.
    return run.new_count + run.updated_count == 0
