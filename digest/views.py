"""Digest pages: behind signed links (the web version of an email, a reader's Atom feed,
"why this paper?"),
and public ones built from the catalogue alone (the archive, a day, the public feed),
whose whole HTML is cached under the catalogue's version (digest.pages)."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from digest import pages
from digest.editions import preview
from digest.editions import selectors as selectors_runs
from digest.emails import delivery_render
from subscriptions.tokens import BadToken, Purpose, read_token

FEED_ENTRIES = 100


@require_GET
def web_version(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = read_token(token, Purpose.WEB_VERSION)
    except BadToken:
        return render(request, "digest/bad_link.html", status=400)
    delivery = selectors_runs.delivery_for_subscriber(
        subscriber=data.subscriber, delivery_id=data.extra
    )
    if delivery is None:
        raise Http404("No such digest")
    rendered = delivery_render(delivery=delivery)
    # The rendered email's own HTML: templates autoescaped it, values were html.escape()d.
    ctx = {
        "delivery": delivery,
        "subject": rendered.subject,
        "papers": mark_safe(rendered.content_html),
    }
    return render(request, "digest/web_version.html", ctx)


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = read_token(token, Purpose.FEED)
    except BadToken:
        return render(request, "digest/bad_link.html", status=400)
    entries = selectors_runs.feed_entries(subscriber=data.subscriber, limit=FEED_ENTRIES)
    body = render_to_string(
        "digest/feed.xml",
        {
            "subscriber": data.subscriber,
            "entries": entries,
            "self_url": request.build_absolute_uri(),
        },
    )
    return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")


@require_GET
def why_paper(request: HttpRequest, token: str, arxiv_id: str) -> HttpResponse:
    """The breakdown of one pick. The token is the email's feedback token: it signs the
    reader and the delivery, so the page shows only papers of that email."""
    try:
        data = read_token(token, Purpose.FEEDBACK)
    except BadToken:
        return render(request, "digest/bad_link.html", status=400)
    delivery = selectors_runs.delivery_for_subscriber(
        subscriber=data.subscriber, delivery_id=data.extra
    )
    if delivery is None:  # an older per-paper feedback token, or a digest since deleted
        return render(request, "digest/bad_link.html", status=400)
    pick = next((p for p in delivery.picks if p.get("arxiv_id") == arxiv_id), None)
    if pick is None:
        raise Http404("Not a paper of this digest")
    explanation = preview.delivery_explanation(delivery=delivery, arxiv_id=arxiv_id)
    if explanation is None:
        raise Http404("This paper is no longer in the catalogue")
    ctx = {
        "delivery": delivery,
        "pick": pick,
        "paper": delivery.run.papers.get(arxiv_id, {}),
        "why": explanation,
        "rows": [c for c in explanation.contributions if c.on],
        "off": [c.name for c in explanation.contributions if not c.on],
    }
    return render(request, "digest/why.html", ctx)


# --- public pages ------------------------------------------------------------------------

ATOM = "application/atom+xml; charset=utf-8"


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10_000:
        raise Http404("No such page")
    return int(raw)


@require_GET
def archive(request: HttpRequest) -> HttpResponse:
    number = _page_number(request)

    def build() -> str:
        page = pages.archive_page(number)
        if number > 1 and not page.days:
            return ""
        return render_to_string("digest/archive.html", {"page": page})

    html = pages.cached(f"html:archive:{number}", build)
    if not html:
        raise Http404("No such page")
    return HttpResponse(html)


@require_GET
def archive_day(request: HttpRequest, day: str) -> HttpResponse:
    try:
        when = date.fromisoformat(day)
    except ValueError as exc:
        raise Http404("No such day") from exc

    def build() -> str:
        cards = pages.day_cards(when)
        if not cards:
            return ""
        return render_to_string("digest/archive_day.html", {"day": when, "cards": cards})

    html = pages.cached(f"html:day:{when.isoformat()}", build)
    if not html:
        raise Http404("No papers that day")
    return HttpResponse(html)


@require_GET
def public_feed(request: HttpRequest) -> HttpResponse:
    def build() -> str:
        days = pages.feed_days()
        updated = days[0].day if days else date(2026, 1, 1)
        ctx = {"days": days, "updated": updated, "site_url": settings.SITE_URL}
        return render_to_string("digest/public_feed.xml", ctx)

    return HttpResponse(pages.cached("html:feed", build), content_type=ATOM)
