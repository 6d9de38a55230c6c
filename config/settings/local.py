"""A newcomer's first run: SQLite, filesystem broker, file outbox, debug on."""

from __future__ import annotations

from django.core.management.utils import get_random_secret_key

from .base import *  # noqa: F403
from .base import SECRET_KEY, VAR_DIR

DEBUG = True


def _local_secret_key() -> str:
    # Generated once and kept under var/ so signed links survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(get_random_secret_key())
    return path.read_text().strip()


SECRET_KEY = SECRET_KEY or _local_secret_key()

# runserver serves static files from the finders; WhiteNoise is for collected files.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405
