"""Subscriber pages: signup, confirmation, preferences, unsubscribe, feedback.

Views stay thin: read the signed token, validate a form, call one service, render.
Every bad, expired, reused or revoked link renders the same plain bad_link page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.cache import patch_cache_control
from django.utils.html import escape
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from digest import pages
from digest.models import Delivery, Paper
from digest.sources.base import is_valid_arxiv_id
from subscriptions import services, tokens
from subscriptions.forms import (
    ManageLinkRequestForm,
    PreferencesFields,
    PreferencesForm,
    SignupForm,
)
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber
from subscriptions.ratelimit import client_ip, form_post_limited, ip_limited
from subscriptions.tokens import BadToken, Purpose, UnknownSubscriber, UsedConfirmation

TOO_MANY = "Too many attempts. Please wait an hour and try again."
# The landing page is cached whole, with this in place of the per-visitor CSRF token.
CSRF_PLACEHOLDER = "csrf-token-placeholder-9f3c"

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

    Returns the redirect on success or the small 429 page, or the status to re-render
    the form with.
    """
    if not form.is_bound:  # an empty POST ("request.POST or None"): nothing to check
        return 400
    valid = form.is_valid()
    # Every post counts against its IP; a valid one from a person against its address
    # too (unless the IP is over its limit): one round trip to the cache for both.
    email = form.cleaned_data["email"] if valid and not form.is_bot else None
    over = form_post_limited(
        request, group=group, ip_rate=ip_rate, email=email, email_rate=email_rate
    )
    if over == "ip":
        return _too_many(request)
    if not valid:
        return 400
    if form.is_bot:  # a bot sees success and gets nothing
        return redirect(done)
    if over == "email":
        return _too_many(request)
    action()
    return redirect(done)


def _too_many(request: HttpRequest) -> HttpResponse:
    """A rate-limited form: a small page, not the form page rebuilt for a flood."""
    response = render(request, "subscriptions/too_many.html", {"message": TOO_MANY}, status=429)
    response["Retry-After"] = "3600"
    return response


def _landing_context(form: SignupForm) -> dict[str, Any]:
    cards = pages.trending_cards_html(heart_form="signup", liked=form.liked_ids())
    return {
        "form": form,
        "trending": pages.trending(),
        # Built from the catalogue's escaped values by digest/_cards.html.
        "cards_html": mark_safe(cards),
        "consent_version": settings.DIGEST_CONSENT_TEXT_VERSION,
    }


def _landing_html() -> str:
    """The landing page as every visitor first sees it, the CSRF token left as a placeholder."""
    ctx = _landing_context(SignupForm())
    ctx["csrf_token"] = CSRF_PLACEHOLDER
    return render_to_string("subscriptions/signup.html", ctx)


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        # Cached whole per catalogue version; only the CSRF token is per visitor.
        html = pages.cached(f"html:landing:{settings.DIGEST_CONSENT_TEXT_VERSION}", _landing_html)
        return HttpResponse(html.replace(CSRF_PLACEHOLDER, get_token(request)))
    form = SignupForm(request.POST)
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
    return render(request, "subscriptions/signup.html", _landing_context(form), status=outcome)


@require_POST
def preview_digest(request: HttpRequest) -> HttpResponse:
    """The papers the form's profile would get today. Scripts (X-Preview: 1) get the
    fragment; the no-script Preview button gets it in a page."""
    fragment = request.headers.get("x-preview") == "1"
    if ip_limited(request, group="preview", rate=settings.SUBSCRIPTIONS_PREVIEW_RATE_PER_IP):
        return _too_many(request)
    # Imported here: the ranker's numpy/scipy stack costs seconds to import, and only
    # this page needs it (not the landing page's first request in each worker).
    from digest import preview

    form = PreferencesFields(request.POST)
    picks: list[preview.PreviewPick] = []
    if form.is_valid():
        data = form.cleaned_data
        picks = preview.digest_preview(
            interests=data["interests"],
            categories=data["categories"],
            followed_authors=data["followed_authors"],
            liked_papers=data["liked_papers"],
            digest_size=data["digest_size"],
        )
    ctx = {"form": form, "picks": picks}
    template = "subscriptions/_preview.html" if fragment else "subscriptions/preview.html"
    # A bad profile is the visitor's to fix: the fragment says what, with a 200 so the
    # live preview simply shows it; the page answers 400.
    status = 400 if form.errors and not fragment else 200
    return render(request, template, ctx, status=status)


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page's <link rel=icon> says."""
    return redirect(static("favicon.svg"), permanent=True)


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "subscriptions/privacy.html", _privacy_context())


def _privacy_context() -> dict[str, Any]:
    confirm_age = tokens.MAX_AGE[Purpose.CONFIRM]
    return {
        "consent_version": settings.DIGEST_CONSENT_TEXT_VERSION,
        "confirm_days": confirm_age.days if confirm_age else None,
    }


@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "subscriptions/signup_done.html")


# Scanner-safe: a GET (mail filters open every link) shows one button; only the POST
# confirms. static/js/autosubmit.js presses the button for a person, so they need no click.
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = tokens.read_token(token, Purpose.CONFIRM).subscriber
    except UsedConfirmation as used:
        response = _already_confirmed(request, used.subscriber)
    except BadToken:
        return _bad_link(request)
    else:
        if request.method == "POST":
            services.subscriber_confirm(subscriber=subscriber, ip=client_ip(request))
            ctx = {"subscriber": subscriber, "manage_url": tokens.manage_url(subscriber)}
            response = render(request, "subscriptions/confirmed.html", ctx)
        else:
            response = render(request, "subscriptions/confirm.html", {"token": token})
    patch_cache_control(response, private=True, no_store=True)
    return response


def _already_confirmed(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    """A used (or overtaken) confirmation link: say where they stand instead of "bad link"."""
    if subscriber.status == Subscriber.Status.ACTIVE:
        ctx = {"subscriber": subscriber, "manage_url": tokens.manage_url(subscriber)}
        return render(request, "subscriptions/already_confirmed.html", ctx)
    return _bad_link(request)


@require_http_methods(["GET", "HEAD", "POST"])
@with_token(Purpose.MANAGE)
def manage(request: HttpRequest, subscriber: Subscriber, token: str, **_: Any) -> HttpResponse:
    feedback = _feedback_lists(subscriber)
    liked_before = {item["arxiv_id"] for item in feedback[PaperFeedback.Kind.LIKE]}
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            prefs = dict(form.cleaned_data)
            # A ♡ ticked before and unticked now: no longer liked.
            unliked = set(prefs.pop("shown", ())) & liked_before - set(prefs["liked_papers"])
            services.subscriber_update_preferences(subscriber=subscriber, **prefs)
            for arxiv_id in sorted(unliked):
                services.feedback_remove(subscriber=subscriber, arxiv_id=arxiv_id)
            return redirect(_manage_path(token) + "?saved=1")
    else:
        initial = PreferencesForm.initial_for(subscriber)
        form = PreferencesForm(initial={**initial, "liked": sorted(liked_before)})
    trending = pages.trending()
    cards = pages.trending_cards_html(heart_form="prefs", liked=form.liked_ids())
    ctx = {
        "subscriber": subscriber,
        "token": token,
        "urls": _token_urls(token),
        "form": form,
        "trending": trending,
        "shown_html": _shown_inputs(trending),
        "cards_html": mark_safe(cards),
        "saved": request.GET.get("saved") == "1" and request.method != "POST",
        "liked": feedback[PaperFeedback.Kind.LIKE],
        "disliked": feedback[PaperFeedback.Kind.DISLIKE],
        # Private Atom feed of their picks, for feed readers (revoked with the other links).
        "feed_url": tokens.feed_url(subscriber),
    }
    return render(request, "subscriptions/manage.html", ctx, status=400 if form.errors else 200)


def _manage_path(token: str) -> str:
    return reverse("subscriptions:manage", args=[token])


# The preferences page links to every page of its token; reverse() for each (about 40 µs
# apiece) was a good part of its rendering. They are reversed once per process with a
# stand-in, which each request replaces with its token, quoted as reverse() quotes it.
TOKEN_PAGES = (
    "manage",
    "resubscribe",
    "feedback_remove",
    "export",
    "delete",
    "manage_unsubscribe",
    "revoke_links",
)
_TOKEN_STANDIN = "token-standin-5b0e"


@functools.cache
def _token_url_patterns(script_prefix: str) -> dict[str, str]:
    return {name: reverse(f"subscriptions:{name}", args=[_TOKEN_STANDIN]) for name in TOKEN_PAGES}


def _token_urls(token: str) -> dict[str, str]:
    """The paths of TOKEN_PAGES for ``token``, as ``reverse(name, args=[token])`` gives them."""
    quoted = quote(token, safe=RFC3986_SUBDELIMS + "/~:@")
    patterns = _token_url_patterns(get_script_prefix())
    return {name: path.replace(_TOKEN_STANDIN, quoted) for name, path in patterns.items()}


def _shown_inputs(trending: pages.Trending) -> SafeString:
    """The ids of the cards shown, so that an unticked ♡ can un-like its paper."""
    return mark_safe(
        "".join(
            f'<input type="hidden" name="shown" value="{escape(card.arxiv_id)}">'
            for card in trending.cards
        )
    )


def _feedback_lists(subscriber: Subscriber) -> dict[str, list[dict[str, Any]]]:
    """Liked and disliked papers, newest first, with their titles: one query.

    In SQL, not the ORM: building the ORM's query (two, or one with a subquery) cost
    the preferences page 1-2 ms of CPU, the query itself a tenth of that. Feedback is
    keyed by arXiv id, not a foreign key (a paper may not be in the catalogue yet): a
    LEFT JOIN on the unique arxiv_id, so a paper we do not have shows without a title.
    """
    feedback, paper = PaperFeedback._meta.db_table, Paper._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            # Only table names are formatted in; the one value is a parameter.
            f"SELECT f.arxiv_id, f.kind, p.title FROM {feedback} f "
            f"LEFT JOIN {paper} p ON p.arxiv_id = f.arxiv_id "
            "WHERE f.subscriber_id = %s ORDER BY f.created_at DESC, f.id DESC",
            [subscriber.pk],
        )
        rows = cursor.fetchall()
    lists: dict[str, list[dict[str, Any]]] = {kind: [] for kind in PaperFeedback.Kind.values}
    for arxiv_id, kind, title in rows:
        lists[kind].append(
            {
                "arxiv_id": arxiv_id,
                "title": title or "",
                "url": f"https://arxiv.org/abs/{arxiv_id}",
            }
        )
    return lists


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
    ctx = {"subscriber": subscriber, "token": token}
    if request.method == "POST":
        if not subscriber.is_active:
            services.subscriber_resubscribe(subscriber=subscriber, ip=client_ip(request))
        return render(request, "subscriptions/resubscribed.html", ctx)
    return render(request, "subscriptions/resubscribe.html", ctx)


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
    resubscribe_url = reverse(
        "subscriptions:resubscribe", args=[tokens.make_token(subscriber, Purpose.MANAGE)]
    )
    unsubscribed = {"resubscribe_url": resubscribe_url}
    if request.method != "POST":
        if subscriber.status == Subscriber.Status.UNSUBSCRIBED:
            return render(request, "subscriptions/unsubscribed.html", unsubscribed)
        return render(request, "subscriptions/unsubscribe_confirm.html", {"token": token})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    method = ConsentRecord.UnsubscribeMethod
    services.subscriber_unsubscribe(
        subscriber=subscriber,
        method=method.ONE_CLICK if one_click else method.FOOTER_LINK,
        ip=client_ip(request),
    )
    return render(request, "subscriptions/unsubscribed.html", unsubscribed)


@require_http_methods(["GET", "HEAD", "POST"])
@with_token(Purpose.FEEDBACK)
def feedback(request: HttpRequest, subscriber: Subscriber, extra: str, **_: Any) -> HttpResponse:
    """Older links (still in mailboxes): the token signs the kind and the paper."""
    kind, _sep, arxiv_id = extra.partition(".")
    if kind not in PaperFeedback.Kind.values or not is_valid_arxiv_id(arxiv_id):
        return _bad_link(request)
    return _feedback_page(request, subscriber, kind=kind, arxiv_id=arxiv_id)


@require_http_methods(["GET", "HEAD", "POST"])
@with_token(Purpose.FEEDBACK)
def delivery_feedback(
    request: HttpRequest, subscriber: Subscriber, extra: str, kind: str, arxiv_id: str, **_: Any
) -> HttpResponse:
    """The token signs one delivery (one email); the paper must be one of its picks."""
    if not (extra.isascii() and extra.isdigit()) or kind not in PaperFeedback.Kind.values:
        return _bad_link(request)
    if not _was_picked(subscriber=subscriber, delivery_id=int(extra), arxiv_id=arxiv_id):
        return _bad_link(request)
    return _feedback_page(request, subscriber, kind=kind, arxiv_id=arxiv_id)


def _was_picked(*, subscriber: Subscriber, delivery_id: int, arxiv_id: str) -> bool:
    picks = (
        Delivery.objects.filter(pk=delivery_id, subscriber=subscriber)
        .values_list("picks", flat=True)
        .first()
    )
    return any(pick.get("arxiv_id") == arxiv_id for pick in picks or ())


def _feedback_page(
    request: HttpRequest, subscriber: Subscriber, *, kind: str, arxiv_id: str
) -> HttpResponse:
    """GET: one button (scanner-safe, auto-pressed by script); POST: record, then thank."""
    paper = Paper.objects.filter(arxiv_id=arxiv_id).first()
    ctx = {"kind": kind, "arxiv_id": arxiv_id, "paper": paper}
    if request.method != "POST":
        return render(request, "subscriptions/feedback_confirm.html", ctx)
    services.feedback_record(subscriber=subscriber, arxiv_id=arxiv_id, kind=kind)
    ctx["manage_url"] = tokens.manage_url(subscriber)
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
