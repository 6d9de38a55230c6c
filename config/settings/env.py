"""Strict readers for settings that come from the environment.

django-environ's env.bool reads any unknown string as False, so a typo such as
DIGEST_REQUIRE_APPROVAL=ture silently sent runs out without review. These readers stop
start-up with ImproperlyConfigured naming the variable and its value instead (HC's
`envbool` in hc/settings.py). An unset or empty variable means the default, except for
lists, where empty means the empty list.
"""

from __future__ import annotations

import math
import os

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def env_bool(name: str, *, default: bool) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _invalid(name, raw, "a boolean (use true/false)")


def env_int(name: str, *, default: int) -> int:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise _invalid(name, raw, "an integer") from None


def env_float(name: str, *, default: float) -> float:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise _invalid(name, raw, "a number") from None
    # float() accepts "nan" and "inf", which no weight, rate or timeout means.
    if not math.isfinite(value):
        raise _invalid(name, raw, "a finite number")
    return value


def env_list(name: str, *, default: list[str]) -> list[str]:
    """Comma-separated; blanks around items are dropped. Set but empty means []."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    items = [item.strip() for item in raw.split(",")]
    if items == [""]:
        return []
    if "" in items:
        raise _invalid(name, raw, "a comma-separated list (it has an empty item)")
    return items


def env_hours(name: str, *, default: list[int]) -> list[int]:
    """Comma-separated hours of the day, 0-23 (for crontab schedules)."""
    raw = _raw(name)
    if raw is None:
        return list(default)
    try:
        hours = [int(item.strip()) for item in raw.split(",")]
    except ValueError:
        raise _invalid(name, raw, "a comma-separated list of hours 0-23") from None
    if not all(0 <= hour <= 23 for hour in hours):
        raise _invalid(name, raw, "a comma-separated list of hours 0-23")
    return hours


def env_is_set(name: str) -> bool:
    """Whether the environment gives ``name`` a value (unset and blank are the same)."""
    return _raw(name) is not None


def _raw(name: str) -> str | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return raw


def _invalid(name: str, raw: str, what: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{name}={raw!r} is not {what}")
