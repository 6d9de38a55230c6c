"""Process-level knobs of the ranker: reading Django settings, pausing the cyclic GC, and
keeping BLAS to one thread while it ranks.

Kept apart so that every module of the package (semantic.py included) can read a
setting without importing the ranker, and works without configured settings.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController


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


@contextmanager
def single_blas() -> Iterator[None]:
    """BLAS on one thread for the block: the ranker already scores its chunks in threads
    of its own, and BLAS threads on top of them only fight for the same cores. OpenBLAS's
    idle threads also spin-wait: with two of them the default ranker took 8.0 s of CPU
    for 100,000 readers, with one 4.8 s (docs/benchmarks.md, "Closing #16 and #17 on a
    faster machine").
    The limit is process-wide: two threads ranking at once (a threads-pool worker) may
    leave BLAS on one thread or give it back early; either changes speed, not results."""
    with _blas().limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _blas() -> ThreadpoolController:
    # Finding the loaded BLAS libraries takes milliseconds: once per process. numpy's and
    # scipy's are loaded by then (the ranker's modules import both).
    return ThreadpoolController()
