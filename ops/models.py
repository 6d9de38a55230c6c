from __future__ import annotations

from django.db import models
from django.utils import timezone


class Heartbeat(models.Model):
    """The last time a process proved it was alive: "beat" when Celery beat queued the
    heartbeat task, "worker" when a worker ran it.

    In the database rather than the cache: a first run's cache is per process, and the
    web process must see what beat and the worker wrote.
    """

    name = models.CharField(max_length=32, primary_key=True)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
