"""Beat queues ops.tasks.heartbeat every minute (CELERY_BEAT_SCHEDULE); a worker runs it."""

from __future__ import annotations

from celery import shared_task

from ops.health import WORKER, heartbeat_record


@shared_task(name="ops.tasks.heartbeat", ignore_result=True, expires=120)  # type: ignore[untyped-decorator]
def heartbeat() -> None:
    heartbeat_record(name=WORKER)
