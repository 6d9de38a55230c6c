"""Subscriber pages: signup, confirmation, preferences, unsubscribe, feedback.

Views stay thin: read the signed token, validate a form, call one service, render.
Every bad, expired, reused or revoked link renders the same plain bad_link page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from digest.catalogue.selectors import latest_trending_day, paper_list_for_day
from digest.models import Delivery, Paper
from digest.sources.base import is_valid_arxiv_id
from subscriptions import services, tokens
from subscriptions.forms import ManageLinkRequestForm, PreferencesForm, SignupForm
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber
from subscriptions.ratelimit import address_limited, client_ip, ip_limited
from subscriptions.tokens import BadToken, Purpose, UnknownSubscriber

TRENDING_ON_LANDING = 30
TOO_MANY = "Too many attempts. Please wait an hour and try again."

TokenView = Callable[..., HttpResponse]


def _bad_link(request: HttpRequest) -> HttpResponse:
    return render(request, "subscriptions/bad_link.html", status=400)


def with_token(purpose: Purpose) -> Callable[[TokenView], TokenView]:
    """Resolve the URL's signed token to a subscriber, or show the bad-link page."""

    def decorator(view: TokenView) -> TokenView:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, token: str, **kwargs: Any) -> HttpResponse:
            try:
                data = tokens.read_token(token, purpose)
            except BadToken:
                return _bad_link(request)
            response = view(request, data.subscriber, token=token, extra=data.extra, **kwargs)
            # Personal pages behind a secret URL: no shared or on-disk caches.
            patch_cache_control(response, private=True, no_store=True)
            return response

        return wrapped

    return decorator


def _trending() -> tuple[date | None, list[Paper]]:
    day = latest_trending_day()
    if day is None:
        return None, []
    return day, paper_list_for_day(day=day)[:TRENDING_ON_LANDING]


def _user_agent(request: HttpRequest) -> str:
    return str(request.headers.get("user-agent", ""))


def _submit_public_form(
    request: HttpRequest,
    form: SignupForm | ManageLinkRequestForm,
    *,
    group: str,
    ip_rate: str,
    email_rate: str,
    action: Callable[[], object],
    done: str,
) -> HttpResponse | int:
    """The POST path shared by the two public forms: limits, validation, honeypot, service.

    Returns the redirect on success, or the status to re-render the form with.
    """
    if not form.is_bound:  # an empty POST ("request.POST or None"): nothing to check
        return 400
    if ip_limited(request, group=group, rate=ip_rate):
        form.is_valid()
        form.add_error(None, TOO_MANY)
        return 429
    if not form.is_valid():
        return 400
    if form.is_bot:  # a bot sees success and gets nothing
        return redirect(done)
    if address_limited(request, group=group, email=form.cleaned_data["email"], rate=email_rate):
        form.add_error(None, TOO_MANY)
        return 429
    action()
    return redirect(done)


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST":
        outcome = _submit_public_form(
            request,
            form,
            group="signup",
            ip_rate=settings.SUBSCRIPTIONS_SIGNUP_RATE_PER_IP,
            email_rate=settings.SUBSCRIPTIONS_SIGNUP_RATE_PER_EMAIL,
            action=lambda: services.subscriber_signup(
                email=form.cleaned_data["email"],
                ip=client_ip(request),
                user_agent=_user_agent(request),
                **form.preferences(),
            ),
            done="subscriptions:signup_done",
        )
        if isinstance(outcome, HttpResponse):
            return outcome
        status = outcome
    day, papers = _trending()
    ctx = {
        "form": form,
        "day": day,
        "papers": papers,
        "consent_version": settings.DIGEST_CONSENT_TEXT_VERSION,
    }
    return render(request, "subscriptions/signup.html", ctx, status=status)


@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "subscriptions/signup_done.html")


@require_GET
@with_token(Purpose.CONFIRM)
def confirm(request: HttpRequest, subscriber: Subscriber, **_: Any) -> HttpResponse:
    services.subscriber_confirm(subscriber=subscriber, ip=client_ip(request))
    ctx = {"subscriber": subscriber, "manage_url": tokens.manage_url(subscriber)}
    return render(request, "subscriptions/confirmed.html", ctx)


@require_http_methods(["GET", "HEAD", "POST"])
@with_token(Purpose.MANAGE)
def manage(request: HttpRequest, subscriber: Subscriber, token: str, **_: Any) -> HttpResponse:
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.subscriber_update_preferences(subscriber=subscriber, **form.cleaned_data)
            return redirect(_manage_path(token) + "?saved=1")
    else:
        form = PreferencesForm(initial=PreferencesForm.initial_for(subscriber))
    ctx = {
        "subscriber": subscriber,
        "token": token,
        "form": form,
        "saved": request.GET.get("saved") == "1" and request.method != "POST",
        "liked": _feedback_list(subscriber, PaperFeedback.Kind.LIKE),
        "disliked": _feedback_list(subscriber, PaperFeedback.Kind.DISLIKE),
        # Private Atom feed of their picks, for feed readers (revoked with the other links).
        "feed_url": tokens.feed_url(subscriber),
    }
    return render(request, "subscriptions/manage.html", ctx, status=400 if form.errors else 200)


def _manage_path(token: str) -> str:
    return reverse("subscriptions:manage", args=[token])


def _feedback_list(subscriber: Subscriber, kind: str) -> list[dict[str, Any]]:
    rows = list(subscriber.feedback.filter(kind=kind).order_by("-created_at"))
    titles = dict(
        Paper.objects.filter(arxiv_id__in=[r.arxiv_id for r in rows]).values_list(
            "arxiv_id", "title"
        )
    )
    return [
        {
            "arxiv_id": r.arxiv_id,
            "title": titles.get(r.arxiv_id, ""),
            "url": f"https://arxiv.org/abs/{r.arxiv_id}",
        }
        for r in rows
    ]


@require_POST
@with_token(Purpose.MANAGE)
def feedback_remove(
    request: HttpRequest, subscriber: Subscriber, token: str, **_: Any
) -> HttpResponse:
    services.feedback_remove(subscriber=subscriber, arxiv_id=request.POST.get("arxiv_id", ""))
    return redirect(_manage_path(token) + "?saved=1")


@require_GET
@with_token(Purpose.MANAGE)
def export(request: HttpRequest, subscriber: Subscriber, **_: Any) -> HttpResponse:
    data = services.subscriber_export(subscriber=subscriber)
    response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = 'attachment; filename="paper-digest-my-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@with_token(Purpose.MANAGE)
def delete(request: HttpRequest, subscriber: Subscriber, token: str, **_: Any) -> HttpResponse:
    if request.method == "POST":
        services.subscriber_delete(subscriber=subscriber)
        return render(request, "subscriptions/deleted.html")
    return render(request, "subscriptions/delete.html", {"token": token})


@require_POST
@with_token(Purpose.MANAGE)
def manage_unsubscribe(
    request: HttpRequest, subscriber: Subscriber, token: str, **_: Any
) -> HttpResponse:
    services.subscriber_unsubscribe(
        subscriber=subscriber,
        method=ConsentRecord.UnsubscribeMethod.PREFERENCES,
        ip=client_ip(request),
    )
    return redirect(_manage_path(token) + "?saved=1")


@require_http_methods(["GET", "HEAD", "POST"])
@with_token(Purpose.MANAGE)
def resubscribe(request: HttpRequest, subscriber: Subscriber, token: str, **_: Any) -> HttpResponse:
    if request.method == "POST":
        if not subscriber.is_active:
            services.subscriber_resubscribe(subscriber=subscriber, ip=client_ip(request))
        return redirect(_manage_path(token) + "?saved=1")
    return render(
        request, "subscriptions/resubscribe.html", {"subscriber": subscriber, "token": token}
    )


@require_POST
@with_token(Purpose.MANAGE)
def revoke_links(request: HttpRequest, subscriber: Subscriber, **_: Any) -> HttpResponse:
    services.subscriber_revoke_links(subscriber=subscriber)
    fresh = tokens.make_token(subscriber, Purpose.MANAGE)
    return redirect(_manage_path(fresh) + "?saved=1")


# RFC 8058: mail clients POST "List-Unsubscribe=One-Click" here without cookies or a CSRF
# token; the token in the URL is the authentication. The footer link GETs the same URL
# and only sees a confirmation button, because mail scanners follow links.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = tokens.read_token(token, Purpose.UNSUBSCRIBE).subscriber
    except UnknownSubscriber:  # deleted themselves: nothing left to unsubscribe
        return render(request, "subscriptions/unsubscribed.html", {"resubscribe_url": None})
    except BadToken:
        return _bad_link(request)
    if request.method != "POST":
        return render(request, "subscriptions/unsubscribe_confirm.html", {"token": token})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    method = ConsentRecord.UnsubscribeMethod
    services.subscriber_unsubscribe(
        subscriber=subscriber,
        method=method.ONE_CLICK if one_click else method.FOOTER_LINK,
        ip=client_ip(request),
    )
    resubscribe_url = reverse(
        "subscriptions:resubscribe", args=[tokens.make_token(subscriber, Purpose.MANAGE)]
    )
    return render(request, "subscriptions/unsubscribed.html", {"resubscribe_url": resubscribe_url})


@require_GET
@with_token(Purpose.FEEDBACK)
def feedback(request: HttpRequest, subscriber: Subscriber, extra: str, **_: Any) -> HttpResponse:
    """Older links (still in mailboxes): the token signs the kind and the paper."""
    kind, _sep, arxiv_id = extra.partition(".")
    if kind not in PaperFeedback.Kind.values or not is_valid_arxiv_id(arxiv_id):
        return _bad_link(request)
    return _feedback_thanks(request, subscriber, kind=kind, arxiv_id=arxiv_id)


@require_GET
@with_token(Purpose.FEEDBACK)
def delivery_feedback(
    request: HttpRequest, subscriber: Subscriber, extra: str, kind: str, arxiv_id: str, **_: Any
) -> HttpResponse:
    """The token signs one delivery (one email); the paper must be one of its picks."""
    if not (extra.isascii() and extra.isdigit()) or kind not in PaperFeedback.Kind.values:
        return _bad_link(request)
    if not _was_picked(subscriber=subscriber, delivery_id=int(extra), arxiv_id=arxiv_id):
        return _bad_link(request)
    return _feedback_thanks(request, subscriber, kind=kind, arxiv_id=arxiv_id)


def _was_picked(*, subscriber: Subscriber, delivery_id: int, arxiv_id: str) -> bool:
    picks = (
        Delivery.objects.filter(pk=delivery_id, subscriber=subscriber)
        .values_list("picks", flat=True)
        .first()
    )
    return any(pick.get("arxiv_id") == arxiv_id for pick in picks or ())


def _feedback_thanks(
    request: HttpRequest, subscriber: Subscriber, *, kind: str, arxiv_id: str
) -> HttpResponse:
    services.feedback_record(subscriber=subscriber, arxiv_id=arxiv_id, kind=kind)
    paper = Paper.objects.filter(arxiv_id=arxiv_id).first()
    ctx = {
        "kind": kind,
        "arxiv_id": arxiv_id,
        "paper": paper,
        "manage_url": tokens.manage_url(subscriber),
    }
    return render(request, "subscriptions/feedback_thanks.html", ctx)


@require_http_methods(["GET", "HEAD", "POST"])
def manage_link_request(request: HttpRequest) -> HttpResponse:
    form = ManageLinkRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        outcome = _submit_public_form(
            request,
            form,
            group="manage-link",
            ip_rate=settings.SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_IP,
            email_rate=settings.SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_EMAIL,
            action=lambda: services.subscriber_request_manage_link(
                email=form.cleaned_data["email"]
            ),
            done="subscriptions:manage_link_sent",
        )
        if isinstance(outcome, HttpResponse):
            return outcome
        status = outcome
    return render(request, "subscriptions/manage_link_request.html", {"form": form}, status=status)


@require_GET
def manage_link_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "subscriptions/manage_link_sent.html")
