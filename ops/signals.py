"""Beat's heartbeat: recorded when beat queues the heartbeat task, in beat's process."""

from __future__ import annotations

from typing import Any

from celery.signals import before_task_publish

HEARTBEAT_TASK = "ops.tasks.heartbeat"


def connect() -> None:
    before_task_publish.connect(on_publish, dispatch_uid="ops.signals.on_publish")


def on_publish(sender: Any = None, **kwargs: Any) -> None:
    # sender is the task's name. Only beat queues the heartbeat task.
    if sender != HEARTBEAT_TASK:
        return
    from ops.health import BEAT, heartbeat_record

    heartbeat_record(name=BEAT)
