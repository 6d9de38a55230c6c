"""Tracking: the anymail webhook receiver (receiver.py, connected in DigestConfig.ready),
the stored events and suppression (events.py), and the daily counts (stats.py)."""

from digest.tracking.events import bounce_kind, tracking_event_process, tracking_event_record
from digest.tracking.stats import delivery_daily_stats

__all__ = [
    "bounce_kind",
    "delivery_daily_stats",
    "tracking_event_process",
    "tracking_event_record",
]
