"""Production: secrets required, HTTPS, static files compressed and cached."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import DATABASES, REDIS_URL, SECRET_KEY, require
from .env import env_bool, env_int

SECRET_KEY = require("SECRET_KEY", SECRET_KEY)
# The cache holds what every process must share: the global send rate, the beat tick's
# lock and the signup rate limits. A per-process memory cache would silently split them.
require("REDIS_URL", REDIS_URL)
DEBUG = False
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", default=60)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Probes and Prometheus talk plain HTTP to the container (LOGGING: base.py, LOG_FORMAT).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
