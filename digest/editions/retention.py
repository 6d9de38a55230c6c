"""Retention: old deliveries keep what the service still needs, not the per-pick detail.

A daily edition for 1M readers adds 1M deliveries, and a delivery's size is mostly its
picks' scores and reasons (what the email said and why). Once an edition is older than
DIGEST_PICK_DETAIL_DAYS its picks are cut down to their arXiv ids, in order. What stays:
every row with its status and timestamps (the admin's history, the run's counts, which
are recounted from statuses), the papers each reader got (their export, their feed, the
no-repeat rule) and the run's papers snapshot. Finished planning passes (the stored
ranker and the shards' id lists) are deleted after PLAN_KEEP_DAYS.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from digest.models import Delivery, DigestRun, EditionPlan

PLAN_KEEP_DAYS = 7
ROWS_PER_UPDATE = 20_000

_COMPACT_SQL = """
UPDATE digest_delivery SET picks = COALESCE((
    SELECT jsonb_agg(jsonb_build_object('arxiv_id', pick -> 'arxiv_id') ORDER BY n)
    FROM jsonb_array_elements(picks) WITH ORDINALITY AS t(pick, n)
), '[]'::jsonb)
WHERE run_id = %s AND id >= %s AND id < %s
"""


def digest_pick_details_drop(*, now: datetime | None = None, keep_days: int | None = None) -> int:
    """Cut old editions' picks to their arXiv ids; how many editions were cut."""
    now = now or timezone.now()
    keep = settings.DIGEST_PICK_DETAIL_DAYS if keep_days is None else keep_days
    cutoff = now.date() - timedelta(days=keep)
    runs = list(
        DigestRun.objects.filter(edition_date__lt=cutoff, details_dropped_at__isnull=True)
        .order_by("edition_date")
        .values_list("pk", flat=True)
    )
    for run_id in runs:
        _compact_run(run_id)
        DigestRun.objects.filter(pk=run_id).update(details_dropped_at=now)
    EditionPlan.objects.filter(finished_at__lt=now - timedelta(days=PLAN_KEEP_DAYS)).delete()
    return len(runs)


def _compact_run(run_id: int) -> None:
    ids = Delivery.objects.filter(run_id=run_id).order_by("pk").values_list("pk", flat=True)
    bounds = list(ids[::ROWS_PER_UPDATE])
    if not bounds:
        return
    last = Delivery.objects.filter(run_id=run_id).order_by("-pk").values_list("pk", flat=True)[0]
    edges = [*bounds, last + 1]
    for low, high in itertools.pairwise(edges):
        # Short transactions: the sender and the webhooks keep writing deliveries.
        with transaction.atomic():
            _compact_range(run_id, low, high)


def _compact_range(run_id: int, low: int, high: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_COMPACT_SQL, [run_id, low, high])
        return
    rows = list(Delivery.objects.filter(run_id=run_id, pk__gte=low, pk__lt=high).only("picks"))
    for row in rows:
        row.picks = [{"arxiv_id": pick["arxiv_id"]} for pick in row.picks]
    Delivery.objects.bulk_update(rows, ["picks"], batch_size=2000)
