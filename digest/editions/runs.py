"""An edition's life (DigestRun): its recount from the deliveries, finishing and pausing.

building -> (awaiting_review -> approved, when DIGEST_REQUIRE_APPROVAL) -> sending -> done,
or cancelled; a run whose error rate passes DIGEST_MAX_ERROR_RATE pauses itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from digest.models import Delivery, DigestRun

Status = Delivery.Status
RunStatus = DigestRun.Status
LEFT = Delivery.LEFT_STATUSES
ERROR_RATE_MIN_SAMPLE = 20


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def digest_run_refresh(*, run_id: int) -> DigestRun:
    """Recount a run from its deliveries; finish it, or pause it on too many errors."""
    counts = dict(
        Delivery.objects.filter(run_id=run_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )

    def n(*statuses: str) -> int:
        return sum(counts.get(s, 0) for s in statuses)

    values = {
        "planned_count": sum(counts.values()),
        "rendered_count": sum(counts.values()) - n(Status.PLANNED, Status.SKIPPED),
        "sent_count": n(*LEFT),
        "failed_count": n(Status.FAILED),
        "delivered_count": n(Status.DELIVERED, Status.OPENED, Status.CLICKED),
        "opened_count": n(Status.OPENED, Status.CLICKED),
        "clicked_count": n(Status.CLICKED),
        "bounced_count": n(Status.BOUNCED),
        "complained_count": n(Status.COMPLAINED),
        "skipped_count": n(Status.SKIPPED),
    }
    DigestRun.objects.filter(pk=run_id).update(**values)
    failed, attempted = _recent_error_rate(run_id, values["failed_count"])
    if attempted >= ERROR_RATE_MIN_SAMPLE and failed / attempted > settings.DIGEST_MAX_ERROR_RATE:
        DigestRun.objects.filter(pk=run_id, status=RunStatus.SENDING).update(
            status=RunStatus.PAUSED,
            note=f"Paused: {failed} of {attempted} sends failed.",
        )
    elif n(Status.PLANNED, Status.SENDING) == 0:
        DigestRun.objects.filter(pk=run_id, status=RunStatus.SENDING).update(
            status=RunStatus.DONE, finished_at=timezone.now()
        )
    return DigestRun.objects.defer("papers").get(pk=run_id)  # the snapshot is large


def _recent_error_rate(run_id: int, failed_in_run: int) -> tuple[int, int]:
    """(failed, attempted) among the sends since the run was last approved or resumed.

    Counted over the whole run, the failures that paused it would pause it again as
    soon as it is resumed, however well the sends go after that.
    """
    if failed_in_run == 0:
        return 0, 0
    approved_at = DigestRun.objects.filter(pk=run_id).values_list("approved_at", flat=True)[0]
    recent = Delivery.objects.filter(run_id=run_id, status__in=[*LEFT, Status.FAILED])
    if approved_at is not None:
        recent = recent.filter(claimed_at__gte=approved_at)
    counts = dict(recent.values_list("status").annotate(n=Count("pk")).order_by())
    failed = counts.pop(Status.FAILED, 0)
    return failed, failed + sum(counts.values())


def digest_run_recount_soon(*, run_id: int, now: bool = False) -> None:
    """Recount a run now if ``now``, else at most once per DIGEST_RUN_RECOUNT_SECONDS.

    A recount reads every delivery of the run, so one per sending chunk or per webhook
    event would cost O(deliveries^2) over a run (1,000 chunks x 100,000 rows for a large
    list). Callers force it when the answer matters at once (the run may be finished, or
    sends failed and it may have to pause); a skipped recount marks the run dirty, and
    the sweeper (every few minutes) recounts dirty runs, so the counts always settle.
    """
    window = settings.DIGEST_RUN_RECOUNT_SECONDS
    if now or window <= 0 or cache.add(_recount_key(run_id), 1, timeout=window):
        cache.delete(_dirty_key(run_id))
        digest_run_refresh(run_id=run_id)
    else:
        cache.set(_dirty_key(run_id), 1, timeout=DIRTY_KEEP_SECONDS)


def digest_run_recount_dirty() -> int:
    """Recount the runs whose last recount was skipped; return how many."""
    since = timezone.now() - timedelta(seconds=DIRTY_KEEP_SECONDS)
    run_ids = list(DigestRun.objects.filter(created_at__gte=since).values_list("pk", flat=True))
    dirty = cache.get_many([_dirty_key(run_id) for run_id in run_ids])
    recounted = 0
    for run_id in run_ids:
        if _dirty_key(run_id) in dirty:
            digest_run_recount_soon(run_id=run_id, now=True)
            recounted += 1
    return recounted


DIRTY_KEEP_SECONDS = 14 * 24 * 3600  # tracking events (opens, clicks) trail a run for days


def _recount_key(run_id: int) -> str:
    return f"digest:run-recount:{run_id}"


def _dirty_key(run_id: int) -> str:
    return f"digest:run-dirty:{run_id}"
