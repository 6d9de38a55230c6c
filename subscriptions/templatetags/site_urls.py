"""{% site_url "app:name" %}: {% url %} for a page without arguments, reversed once.

Every page's header and footer link to the same few pages; reverse() took about 40 µs
each time (a tenth of the preferences page's template). The paths depend only on the
URLconf and the script prefix, which key the cache.
"""

from __future__ import annotations

import functools

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@register.simple_tag
def site_url(name: str) -> str:
    return _reversed(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@functools.cache
def _reversed(name: str, urlconf: str, script_prefix: str) -> str:
    return reverse(name, urlconf=urlconf)


@receiver(setting_changed)
def _forget(*, setting: str, **_: object) -> None:
    # Tests may swap the URLconf under the same name (override_settings).
    if setting == "ROOT_URLCONF":
        _reversed.cache_clear()
