"""Tests: whatever DATABASE_URL / CELERY_BROKER_URL say (PostgreSQL and Redis in CI)."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import SECRET_KEY, broker_transport, env
from .env import env_bool, env_int

SECRET_KEY = SECRET_KEY or "test-only-secret-key-not-for-production-0123456789"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SITE_URL = "http://testserver"
ALLOWED_HOSTS = ["*"]
# Tasks run inline unless a test starts a real worker (tests/conftest.py celery_worker).
# Tests that start a real worker use the real Redis broker (CI sets CELERY_BROKER_URL).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/1")
CELERY_BROKER_TRANSPORT = broker_transport(CELERY_BROKER_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files come from the finders in tests; WhiteNoise is for collected files.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405
# Recount a run after every chunk and event, so tests see exact counts at once;
# tests/digest/runs/test_recount.py covers the throttle itself.
DIGEST_RUN_RECOUNT_SECONDS = env_int("DIGEST_RUN_RECOUNT_SECONDS", default=0)
# Page caches re-read the catalogue version on every call (no per-process grace period).
DIGEST_PAGES_RECHECK_SECONDS = 0
