"""Process-level knobs of the ranker: reading Django settings, and pausing the cyclic GC.

Kept apart so that every module of the package (semantic.py included) can read a
setting without importing the ranker, and works without configured settings.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def setting(name: str, default: object) -> object:
    from django.conf import settings

    return getattr(settings, name, default) if settings.configured else default


@contextmanager
def no_gc() -> Iterator[None]:
    # Millions of small acyclic objects (picks, reasons): without this the cyclic GC
    # rescans all of them again and again and the run gets slower than linear.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
