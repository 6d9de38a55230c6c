"""Sending: each planned delivery claimed and sent exactly once, through one Transport.

runs.py starts an edition's sending (chunks queued) and sends again; sender.py is the
loop over a chunk; claims.py the claim that makes each email go once; marks.py what is
recorded once a message left (handed over, then sent); transport.py the Transport seam
(BackendTransport: any Django/anymail backend) with smtp.py's SMTPTransport (the claim's
commit overlapping the upload); throttle.py the global rate; sweeper.py what dead
workers left; due.py the beat tick's sending half; review.py the admin's actions;
outbox.py the file backend of a first run.
"""

from digest.sending.claims import delivery_claim
from digest.sending.due import (
    digest_send_day,
    digest_send_due,
    digest_shard_plan_send,
    digest_shards_requeue_stale,
)
from digest.sending.review import delivery_send_test_copy, digest_run_approve, digest_run_cancel
from digest.sending.runs import delivery_resend, digest_run_resend_failed, digest_run_send
from digest.sending.sender import ChunkResult, delivery_send_chunk
from digest.sending.sweeper import delivery_sweep_stuck

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
    "digest_shard_plan_send",
    "digest_shards_requeue_stale",
]
