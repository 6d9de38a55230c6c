"""A run's deliveries as CSV rows: one per delivery, with the stages it reached."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper

from digest.models import Delivery, DigestRun
from ops.stats import STAGES, reached

HEADER = (
    "delivery_id",
    "edition",
    "email",
    "status",
    *(f"reached_{stage}" for stage in STAGES),
    "attempts",
    "claimed_at",
    "sent_at",
    "message_id",
    "last_error",
)
# A cell that a spreadsheet would read as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def delivery_csv_rows(*, runs: list[DigestRun], chunk_size: int = 2000) -> Iterator[list[str]]:
    """The header, then each delivery of ``runs`` (streamed: a run may have 100,000)."""
    yield list(HEADER)
    flags = {
        f"reached_{stage}": ExpressionWrapper(reached(stage), output_field=BooleanField())
        for stage in STAGES
    }
    deliveries = (
        Delivery.objects.filter(run__in=runs)
        .annotate(**flags)
        .select_related("subscriber", "run")
        .only(
            "status",
            "attempts",
            "claimed_at",
            "sent_at",
            "message_id",
            "last_error",
            "subscriber__email",
            "run__edition_date",
            "run__frequency",
            "run__week",
        )
        .order_by("run_id", "pk")
    )
    for d in deliveries.iterator(chunk_size=chunk_size):
        yield [
            _cell(value)
            for value in (
                d.pk,
                str(d.run),
                d.subscriber.email,
                d.status,
                *(int(bool(getattr(d, f"reached_{stage}"))) for stage in STAGES),
                d.attempts,
                d.claimed_at,
                d.sent_at,
                d.message_id,
                d.last_error,
            )
        ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
