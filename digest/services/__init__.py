"""Digest runs: build an edition, review it, send each email exactly once, track it.

The life of an edition (DigestRun, one per date and frequency):
building -> (awaiting_review -> approved, when DIGEST_REQUIRE_APPROVAL) -> sending -> done,
or cancelled; a run whose error rate passes DIGEST_MAX_ERROR_RATE pauses itself.

- build: rank and plan one delivery per due subscriber (unique per run and subscriber).
- send: claim, send and mark each delivery, exactly once; the sweeper for dead workers.
- tick: the beat tick that builds and queues whoever's hour has come.
- review: approve, cancel, preview, test copies and the admin's daily chart.
- tracking: ESP webhook events (delivered, opened, bounced ...) and suppression.

Callers import from ``digest.services``; the modules are its implementation.
"""

from digest.services.build import digest_run_build, subscriber_list_due_on
from digest.services.common import LEFT, OPEN, SENDABLE, digest_run_refresh
from digest.services.review import (
    delivery_daily_stats,
    delivery_render,
    delivery_send_test_copy,
    digest_run_approve,
    digest_run_cancel,
)
from digest.services.send import (
    ChunkResult,
    delivery_claim,
    delivery_resend,
    delivery_send_chunk,
    delivery_sweep_stuck,
    digest_run_resend_failed,
    digest_run_send,
)
from digest.services.tick import digest_send_due
from digest.services.tracking import tracking_event_process, tracking_event_record

__all__ = [
    "LEFT",
    "OPEN",
    "SENDABLE",
    "ChunkResult",
    "delivery_claim",
    "delivery_daily_stats",
    "delivery_render",
    "delivery_resend",
    "delivery_send_chunk",
    "delivery_send_test_copy",
    "delivery_sweep_stuck",
    "digest_run_approve",
    "digest_run_build",
    "digest_run_cancel",
    "digest_run_refresh",
    "digest_run_resend_failed",
    "digest_run_send",
    "digest_send_due",
    "subscriber_list_due_on",
    "tracking_event_process",
    "tracking_event_record",
]
