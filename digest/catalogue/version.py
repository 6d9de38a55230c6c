"""The catalogue's version, for caches of pages built from it (landing, archive, feed).

Every fetch that stores or changes papers bumps the version, so a page cached under the
old one is never served again. The version lives in the shared cache (Redis in
production); a cache that is down makes ``catalogue_version`` return None and callers
build their page uncached instead of failing.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

VERSION_KEY = "catalogue:version"


def catalogue_version() -> str | None:
    """The current version (set on first use), or None when the cache cannot be reached."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            fresh = str(time.time_ns())
            # add(): of two processes starting at once, both end up with one version.
            cache.add(VERSION_KEY, fresh, timeout=None)
            version = cache.get(VERSION_KEY, fresh)
    except Exception:  # any cache failure means "no cache", never an error page
        logger.warning("cache unavailable: pages built uncached", exc_info=True)
        return None
    return str(version)


def catalogue_changed() -> None:
    """Retire every page cached from the catalogue (called after a fetch changed it)."""
    try:
        cache.set(VERSION_KEY, str(time.time_ns()), timeout=None)
    except Exception:
        logger.warning("cache unavailable: could not bump the catalogue version", exc_info=True)
