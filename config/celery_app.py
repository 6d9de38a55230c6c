from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("paper_digest")
# All Celery settings live in Django settings, prefixed CELERY_ (including the beat
# schedule, config/settings/base.py CELERY_BEAT_SCHEDULE).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect  # type: ignore[untyped-decorator]  # celery ships no types
def _use_django_logging(**kwargs: Any) -> None:
    # Workers and beat log like the web app (settings.LOGGING: LOG_FORMAT=json too)
    # instead of Celery replacing the root logger's handlers.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
