from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("paper_digest")
# All Celery settings live in Django settings, prefixed CELERY_ (including the beat
# schedule, config/settings/base.py CELERY_BEAT_SCHEDULE).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
