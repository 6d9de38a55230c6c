"""The tracking webhook URLs: anymail's views, routed only for the ESPs we use, hardened.

anymail routes every ESP it supports; a view of an ESP that is not configured (Mailgun
without its signing key, Amazon SES without boto3...) answered 500 to anyone, and a
malformed body (non-JSON, a JSON list) 500 with the right secret. Here:

- only the tracking URL of a configured ESP (DIGEST_TRACKING_ESPS, by default the ESP of
  an anymail EMAIL_BACKEND) resolves to a view; every other /anymail/ URL is a 404,
  decided per request so settings overrides apply;
- a view that cannot be built from the settings (ImproperlyConfigured) is a 404 too;
- a body the ESP's parser cannot read is a 400 (anymail's validation failure), while
  errors while storing an event stay 500s, which ESPs retry;
- where the ESP signs a timestamp (Mailgun), a signature older than
  WEBHOOK_MAX_AGE is refused (400): a captured request cannot be replayed later.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, re_path
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

WEBHOOK_MAX_AGE = 15 * 60  # seconds; Mailgun's own guidance is to refuse stale signatures
ANYMAIL_BACKEND_PREFIX = "anymail.backends."

View = Callable[..., HttpResponse]


def tracking_views() -> dict[str, tuple[str, type[Any]]]:
    """Every tracking URL anymail knows: route -> (ESP slug, view class)."""
    views: dict[str, tuple[str, type[Any]]] = {}
    for pattern in anymail_urls.urlpatterns:
        name = pattern.name or ""
        if not (name.endswith("_tracking_webhook") or name == "mandrill_webhook"):
            continue
        route = str(pattern.pattern)
        slug = route.lstrip("^").split("/", 1)[0]
        views[route] = (slug, pattern.callback.view_class)
    return views


def configured_esps() -> set[str]:
    """The ESP slugs whose tracking webhook is routed ("mailgun", "amazon_ses", ...)."""
    explicit = getattr(settings, "DIGEST_TRACKING_ESPS", None)
    if explicit:
        return {str(name).strip().lower() for name in explicit}
    backend = str(settings.EMAIL_BACKEND)
    if backend.startswith(ANYMAIL_BACKEND_PREFIX):
        return {backend.removeprefix(ANYMAIL_BACKEND_PREFIX).split(".", 1)[0]}
    return set()


def _signed_timestamp(request: HttpRequest, slug: str) -> str | None:
    """The timestamp the ESP signed, for ESPs whose signature covers one."""
    if slug != "mailgun":
        return None
    if request.content_type == "application/json":
        block = json.loads(request.body).get("signature", {})
        return str(block.get("timestamp", "")) if isinstance(block, dict) else ""
    return str(request.POST.get("timestamp", ""))


def check_signature_age(request: HttpRequest, slug: str, *, now: float | None = None) -> None:
    """Refuse a signed timestamp older (or further ahead) than WEBHOOK_MAX_AGE."""
    stamp = _signed_timestamp(request, slug)
    if stamp is None:
        return
    try:
        age = (now if now is not None else time.time()) - float(stamp)
    except ValueError:
        raise AnymailWebhookValidationFailure("unreadable signature timestamp") from None
    if not abs(age) <= WEBHOOK_MAX_AGE:  # also refuses nan
        raise AnymailWebhookValidationFailure(f"signature timestamp {stamp} is too old")


@functools.cache
def _hardened(view_class: Any, slug: str) -> type[Any]:
    """``view_class`` whose unreadable bodies are validation failures (400), not 500s."""

    def run_validators(self: Any, request: HttpRequest) -> None:
        try:
            view_class.run_validators(self, request)
            check_signature_age(request, slug)
        except AnymailWebhookValidationFailure:
            raise
        except Exception as exc:  # a malformed body, found while checking its signature
            raise _unreadable(slug, exc) from exc

    def parse_events(self: Any, request: HttpRequest) -> Any:
        try:
            return list(view_class.parse_events(self, request))
        except AnymailWebhookValidationFailure:
            raise
        except Exception as exc:
            raise _unreadable(slug, exc) from exc

    attrs = {"run_validators": run_validators, "parse_events": parse_events}
    return type(f"Hardened{view_class.__name__}", (view_class,), attrs)


def _unreadable(slug: str, exc: Exception) -> AnymailWebhookValidationFailure:
    logger.warning("unreadable %s webhook body: %s: %s", slug, type(exc).__name__, exc)
    return AnymailWebhookValidationFailure(f"unreadable {slug} webhook body")


def _guarded(view_class: Any, slug: str) -> View:
    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if slug not in configured_esps():
            raise Http404("no such webhook")
        try:
            handler = _hardened(view_class, slug).as_view()
            response: HttpResponse = handler(request, *args, **kwargs)
        except ImproperlyConfigured as exc:  # e.g. Mailgun without its signing key
            logger.error("the %s webhook is not configured: %s", slug, exc)
            raise Http404("no such webhook") from exc
        return response

    return view


def _urlpatterns() -> list[URLPattern]:
    patterns = []
    for route, (slug, view_class) in tracking_views().items():
        name = f"{slug}_tracking_webhook"
        if route.startswith("^"):
            patterns.append(re_path(route, _guarded(view_class, slug), name=name))
        else:
            patterns.append(path(route, _guarded(view_class, slug), name=name))
    return patterns


app_name = "anymail"
urlpatterns = _urlpatterns()
