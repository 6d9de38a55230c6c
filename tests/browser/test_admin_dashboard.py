"""The operator's console in a real browser at 1280 px: the dashboard, and lists that fit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from digest import editions
from digest.models import Delivery, FetchRun, TrackingEvent
from ops.models import Heartbeat

pytestmark = pytest.mark.browser

WIDTH = 1280
LONG_TITLE = "Scaling diffusion transformers for long-horizon video generation " * 3


@pytest.fixture
def console(site, settings, subscriber_factory, paper_trend_factory):
    settings.DIGEST_REQUIRE_APPROVAL = True
    today = timezone.localdate()
    for i in range(6):
        paper_trend_factory(day=today, paper__title=f"{LONG_TITLE} (part {i})")
    for i in range(8):
        subscriber_factory(email=f"a-rather-long-reader-address-{i}@university.example.org")
    run = editions.digest_run_build(day=today)
    # Last month's emails, so the charts have lines.
    deliveries = list(Delivery.objects.filter(run=run))
    for i, delivery in enumerate(deliveries[:6]):
        sent = timezone.now() - timedelta(days=i * 4)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=["sent", "delivered", "opened", "clicked", "bounced", "sent"][i],
            sent_at=sent,
            last_error="SMTPRecipientRefused: 550 5.1.1 the mailbox does not exist" * 2,
        )
        if i == 4:
            TrackingEvent.objects.create(event_id=f"e{i}", event_type="opened", delivery=delivery)
    FetchRun.objects.create(
        source="hf_api", day=today, status="ok", new_count=20, finished_at=timezone.now()
    )
    FetchRun.objects.create(source="arxiv_rss", day=today, status="failed", error_count=1)
    Heartbeat.objects.create(name="beat", at=timezone.now())
    Heartbeat.objects.create(name="worker", at=timezone.now())
    get_user_model().objects.create_superuser("editor", "editor@example.com", "pw-editor-1")
    return run


def _login(page, url):
    page.goto(url + "/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("editor")
    page.get_by_label("Password").fill("pw-editor-1")
    page.get_by_role("button", name="Log in").click()


def _no_horizontal_scroll(page) -> bool:
    # Neither the page nor a list's own scroll box (Django wraps lists in one).
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth && "
        "[...document.querySelectorAll('.results')].every(e => e.scrollWidth <= e.clientWidth)"
    )


def test_the_dashboard_at_1280_px(site, console, browser, artifacts):
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    _login(page, site.url)

    page.get_by_role("heading", name="Today's edition").wait_for()
    approve = page.get_by_role("button", name="Approve and send")
    assert approve.is_visible()
    # Nothing of the main column hides under the sidebar.
    sidebar = page.locator("#content-related").bounding_box()
    for element in (approve, page.locator("#editions")):
        box = element.bounding_box()
        assert box["x"] + box["width"] <= sidebar["x"]
    assert page.locator("svg.ops-chart").count() == 3
    assert page.get_by_role("img", name="Emails per day (by day sent)").is_visible()
    assert _no_horizontal_scroll(page)
    page.screenshot(path=artifacts / "admin-dashboard-1280.png", full_page=True)

    for path in (
        "/admin/digest/digestrun/",
        "/admin/digest/delivery/",
        "/admin/digest/paper/",
        "/admin/digest/fetchrun/",
        "/admin/subscriptions/subscriber/",
    ):
        page.goto(site.url + path)
        page.locator("#result_list").wait_for()
        widths = page.evaluate(  # for the failure message: which column is too wide
            "[...document.querySelectorAll('#result_list thead th')]"
            ".map(e => e.innerText.trim() + ':' + e.offsetWidth)"
        )
        assert _no_horizontal_scroll(page), f"{path} scrolls sideways at {WIDTH} px: {widths}"

    page.goto(site.url + "/admin/digest/paper/")
    title = page.locator("td.field-short_title .ops-ellipsis").first
    assert title.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    assert title.evaluate("e => e.scrollWidth > e.clientWidth")  # cut by the browser
    assert title.get_attribute("title").startswith("Scaling diffusion transformers")
    page.screenshot(path=artifacts / "admin-papers-1280.png")

    for name, path in (("deliveries", "delivery"), ("runs", "digestrun")):
        page.goto(f"{site.url}/admin/digest/{path}/")
        page.locator("#result_list").wait_for()
        page.screenshot(path=artifacts / f"admin-{name}-1280.png")
    context.close()
