"""Sending: each planned delivery claimed and sent exactly once (sender.py), the beat
tick's sending half (due.py), review actions (review.py) and the sweeper for dead
workers; the SMTP fast path (smtp.py) and the file outbox for a first run (outbox.py).
"""

from digest.sending.due import digest_send_day, digest_send_due
from digest.sending.review import delivery_send_test_copy, digest_run_approve, digest_run_cancel
from digest.sending.sender import (
    ChunkResult,
    delivery_claim,
    delivery_resend,
    delivery_send_chunk,
    delivery_sweep_stuck,
    digest_run_resend_failed,
    digest_run_send,
)

__all__ = [
    "ChunkResult",
    "delivery_claim",
    "delivery_resend",
    "delivery_send_chunk",
    "delivery_send_test_copy",
    "delivery_sweep_stuck",
    "digest_run_approve",
    "digest_run_cancel",
    "digest_run_resend_failed",
    "digest_run_send",
    "digest_send_day",
    "digest_send_due",
]
