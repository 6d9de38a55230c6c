"""Public digest pages behind signed links: the web version of an email, the Atom feed."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

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
