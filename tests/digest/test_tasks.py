"""The Celery settings Celery's Redis documentation asks for, checked on the loaded app."""

from __future__ import annotations

from django.conf import settings

import digest.tasks  # noqa: F401 - registers the tasks
from config.celery_app import app

SENDING_TASKS = (
    "digest.tasks.send_due_digests",
    "digest.tasks.send_deliveries",
    "digest.tasks.sweep_stuck_deliveries",
    "digest.tasks.process_tracking_event",
    "digest.tasks.plan_shard",
    "digest.tasks.requeue_plan_shards",
    "digest.tasks.drop_old_pick_details",
)


def test_the_visibility_timeout_outlasts_any_task_and_its_retry_delay():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    for name in SENDING_TASKS:
        task = app.tasks[name]
        # autoretry_for with retry_backoff waits up to retry_backoff_max, else the default.
        backoff = getattr(task, "retry_backoff", False)
        retry_delay = getattr(task, "retry_backoff_max", 600) if backoff else 0
        retry_delay = max(retry_delay, task.default_retry_delay or 0)
        assert visibility > settings.CELERY_TASK_TIME_LIMIT + retry_delay, name


def test_sending_tasks_are_acknowledged_late_and_requeued_when_a_worker_dies():
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    for name in SENDING_TASKS:
        assert app.tasks[name].acks_late is True, name
