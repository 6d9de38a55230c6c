"""The beat tick and the support command: plan what is due, then send it."""

from __future__ import annotations

from datetime import date, datetime

from digest.editions import digest_plan_due, digest_run_build, scheduling
from digest.models import DigestRun
from digest.sending.runs import digest_run_send


def digest_send_due(*, now: datetime | None = None) -> list[int]:
    """One beat tick: plan the editions of everyone whose hour has come and queue them."""
    run_ids = []
    for planned in digest_plan_due(now=now):
        run = planned.run
        if run.status in (*DigestRun.SENDABLE_STATUSES, DigestRun.Status.DONE):
            # The edition is shared by every hour's readers: queue only this tick's.
            digest_run_send(run=run, planned_since=planned.planned_since)
        run_ids.append(run.pk)
    return run_ids


def digest_send_day(*, day: date, inline: bool = True) -> list[tuple[str, DigestRun | None]]:
    """Plan and send ``day``'s daily and weekly editions to everyone due that date,
    whatever their hour (``send_digests``); inline in this process, or queued."""
    runs: list[tuple[str, DigestRun | None]] = []
    for frequency in (scheduling.DAILY, scheduling.WEEKLY):
        run = digest_run_build(day=day, frequency=frequency)
        if run is not None:
            if run.status in (DigestRun.Status.APPROVED, DigestRun.Status.DONE):
                digest_run_send(run=run, inline=inline)
            run.refresh_from_db()
        runs.append((frequency, run))
    return runs
