"""The digest's HTML part, opened in Chromium at 600 and 375 px: nothing overflows, every
link resolves. Thumbnails are served by a stand-in (no network in tests)."""

from __future__ import annotations

import io
import re
from datetime import date
from html import escape
from pathlib import Path

import pytest
from django.core.management import call_command

from digest import editions
from digest.emails import renderer_for
from digest.models import Delivery, Paper
from subscriptions.models import Subscriber

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[2] / "digest" / "sample_data" / "hf_daily_papers"
DAY = date(2026, 7, 1)
THUMBNAILS = "https://cdn-thumbnails.huggingface.co/**"


def _digest_html(site) -> tuple[str, Delivery]:
    call_command("fetch_papers", "--file", str(SAMPLE / f"{DAY}.json"), stdout=io.StringIO())
    Subscriber.objects.create(
        email="reader@example.com",
        status=Subscriber.Status.ACTIVE,
        interests="video generation, reinforcement learning, agents, reasoning",
        digest_size=20,
    )
    run = editions.digest_run_build(day=DAY)
    delivery = Delivery.objects.select_related("subscriber").get()
    message = renderer_for(run).message(
        delivery_id=delivery.pk,
        message_id="<m@x>",
        subscriber=delivery.subscriber,
        picks=delivery.picks,
    )
    return message.alternatives[0][0], delivery


def _thumbnail(route, titles: dict[str, str]) -> None:
    """A 1200x630 stand-in card with the paper's title, as Hugging Face's are."""
    arxiv_id = route.request.url.rsplit("/", 1)[-1].removesuffix(".png")
    title = titles.get(arxiv_id, arxiv_id)
    words, lines = title.split(), [""]
    for word in words:
        if len(lines[-1]) + len(word) > 34:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}".strip()
    text = "".join(
        f'<text x="70" y="{170 + 70 * i}" font-size="54" font-weight="700" fill="#fff">'
        f"{escape(line)}</text>"
        for i, line in enumerate(lines[:5])
    )
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" '
        'font-family="Helvetica, Arial, sans-serif">'
        '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        '<stop offset="0" stop-color="#3b4fd8"/><stop offset="1" stop-color="#8e44ad"/>'
        '</linearGradient></defs><rect width="1200" height="630" fill="url(#g)"/>'
        f'{text}<text x="70" y="570" font-size="34" fill="#e0e0ff">arXiv {arxiv_id}</text></svg>'
    )
    route.fulfill(status=200, content_type="image/svg+xml", body=svg)


def _open(browser, html: str, *, width: int, dark: bool = False):
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        color_scheme="dark" if dark else "light",
        is_mobile=width < 500,
    )
    page = context.new_page()
    # Titles read here: a route handler runs in its own greenlet, which would open (and
    # leave open) a database connection of its own.
    titles = dict(Paper.objects.values_list("arxiv_id", "title"))
    page.route(THUMBNAILS, lambda route: _thumbnail(route, titles))
    page.set_content(html, wait_until="load")
    return context, page


def _assert_nothing_overflows(page, width: int) -> None:
    sizes = page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth,
            widest: Math.max(...[...document.querySelectorAll('body *')]
                .map(e => e.getBoundingClientRect().right)),
            images: [...document.images].map(i => [i.complete, i.naturalWidth, i.width]),
        })"""
    )
    assert sizes["page"] <= width, sizes
    assert sizes["widest"] <= width + 0.5, sizes
    images = sizes["images"]
    assert images and all(
        done and natural > 0 and 0 < shown <= width for done, natural, shown in images
    )


@pytest.mark.parametrize("width", [600, 375])
def test_the_digest_fits_the_screen_and_every_link_resolves(site, browser, artifacts, width):
    html, delivery = _digest_html(site)
    context, page = _open(browser, html, width=width)
    _assert_nothing_overflows(page, width)
    assert page.locator("table.card").count() == len(delivery.picks) == 20
    assert page.get_by_role("link", name="More like this").count() == 20
    assert page.get_by_role("link", name="Less like this").count() == 20
    page.screenshot(path=artifacts / f"email-{width}.png", full_page=True)
    if width == 600:
        page.screenshot(
            path=artifacts / "email-600-top.png",
            clip={"x": 0, "y": 0, "width": 600, "height": 1400},
        )

    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    site_links = {href for href in hrefs if href.startswith(site.url)}
    external = set(hrefs) - site_links
    # The footer's, the web version's and each paper's two feedback links.
    assert len(site_links) >= 1 + 3 + 2 * 20
    for href in sorted(site_links):
        response = context.request.get(href, max_redirects=0)
        assert response.status < 400, (href, response.status)
    assert external and all(re.fullmatch(r"https?://[^/\s]+\.[a-z]{2,}/\S*", h) for h in external)
    srcs = page.eval_on_selector_all("img", "images => images.map(i => i.getAttribute('src'))")
    assert srcs and all(src.startswith("https://") for src in srcs)
    context.close()


def test_the_digest_in_dark_mode_on_a_phone(site, browser, artifacts):
    html, _ = _digest_html(site)
    context, page = _open(browser, html, width=375, dark=True)
    _assert_nothing_overflows(page, 375)
    background = page.evaluate(
        "getComputedStyle(document.querySelector('table.card')).backgroundColor"
    )
    assert background == "rgb(36, 36, 40)"  # the dark card, not the white one
    page.screenshot(
        path=artifacts / "email-375-dark.png", clip={"x": 0, "y": 0, "width": 375, "height": 1400}
    )
    context.close()
