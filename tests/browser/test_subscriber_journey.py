"""The whole subscriber journey through the real pages in a real browser."""

from __future__ import annotations

import re

import pytest

from subscriptions import tokens
from subscriptions.models import ConsentRecord, Subscriber

pytestmark = pytest.mark.browser


def _link(mailoutbox, kind: str) -> str:
    body = mailoutbox[-1].body
    return re.search(rf"(http://\S+/{kind}/\S+/)", body).group(1)


def test_it_signs_up_confirms_edits_and_unsubscribes(
    site, browser, artifacts, mailoutbox, paper_trend_factory
):
    paper_trend_factory(paper__title="Trending paper about diffusion models")
    context = browser.new_context(timezone_id="Europe/Berlin", locale="en-GB")
    page = context.new_page()

    page.goto(site.url + "/")
    page.get_by_role("link", name="Trending paper about diffusion models").wait_for()
    # JavaScript enhancement: the time zone comes from the browser.
    assert page.get_by_label("Time zone").input_value() == "Europe/Berlin"
    page.screenshot(path=artifacts / "01-landing.png", full_page=True)

    page.get_by_label("Email address").fill("journey@example.com")
    page.get_by_label("Your interests").fill("diffusion models, retrieval-augmented generation")
    page.get_by_text("More options").click()  # the rest is folded away
    page.get_by_label("Machine Learning (cs.LG)").check()
    page.get_by_label("Papers you like (optional)").fill("https://arxiv.org/abs/2501.01234v1")
    page.get_by_label("Authors to follow (optional)").fill("Fei-Fei Li")
    page.get_by_role("radio", name="Weekly").check()
    page.get_by_label("Day of the week (weekly digests)").select_option(label="Friday")
    page.get_by_label("Send at (your local time)").select_option(label="08:00")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    page.screenshot(path=artifacts / "02-check-inbox.png", full_page=True)

    sub = Subscriber.objects.get(email="journey@example.com")
    assert (sub.status, sub.frequency, sub.weekday, sub.send_hour) == ("pending", "weekly", 4, 8)
    assert (sub.timezone, sub.categories) == ("Europe/Berlin", ["cs.LG"])
    assert sub.consent.signup_ip == "127.0.0.1"
    assert "HeadlessChrome" in sub.consent.signup_user_agent

    # The confirmation page's one button is pressed by its script.
    page.goto(_link(mailoutbox, "confirm"))
    page.get_by_role("heading", name="You're subscribed").wait_for()
    page.screenshot(path=artifacts / "03-confirmed.png", full_page=True)
    sub.refresh_from_db()
    assert sub.status == Subscriber.Status.ACTIVE and sub.consent.confirmed_ip == "127.0.0.1"

    page.get_by_role("link", name="Change your preferences").click()
    page.get_by_role("heading", name="Your subscription").wait_for()
    assert page.get_by_label("Time zone").input_value() == "Europe/Berlin"
    page.get_by_label("Your interests").fill("protein folding")
    page.get_by_role("radio", name="Daily").check()
    page.get_by_role("radio", name="20").check()
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    page.get_by_role("button", name="Remove 2501.01234").click()
    page.get_by_text("None yet.").wait_for()
    page.screenshot(path=artifacts / "04-preferences-saved.png", full_page=True)
    sub.refresh_from_db()
    assert (sub.interests, sub.frequency, sub.digest_size) == ("protein folding", "daily", 20)
    assert not sub.feedback.exists()

    # The footer link of a digest.
    page.goto(tokens.unsubscribe_url(sub))
    page.get_by_role("heading", name="Unsubscribe from Paper Digest?").wait_for()
    page.screenshot(path=artifacts / "05-unsubscribe-confirm.png", full_page=True)
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.ACTIVE
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You're unsubscribed").wait_for()
    page.screenshot(path=artifacts / "06-unsubscribed.png", full_page=True)
    sub.refresh_from_db()
    assert sub.status == Subscriber.Status.UNSUBSCRIBED
    assert sub.consent.unsubscribe_method == ConsentRecord.UnsubscribeMethod.FOOTER_LINK

    page.get_by_role("link", name="Resubscribe").click()
    page.get_by_role("button", name="Resubscribe").click()
    page.get_by_role("heading", name="You're subscribed again").wait_for()
    page.screenshot(path=artifacts / "07-resubscribed.png", full_page=True)
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.ACTIVE
    context.close()


def test_it_works_without_javascript_and_on_a_phone(site, browser, artifacts, mailoutbox):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 375, "height": 740}, is_mobile=True
    )
    page = context.new_page()
    page.goto(site.url + "/")
    # Readable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=artifacts / "10-phone-landing.png", full_page=True)

    page.get_by_label("Email address").fill("not-an-address")
    page.get_by_label("Your interests").fill("<script>alert(1)</script> graph learning")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("alert").filter(has_text="Enter a valid email address.").wait_for()
    assert (
        page.get_by_label("Your interests").input_value()
        == "<script>alert(1)</script> graph learning"
    )
    page.screenshot(path=artifacts / "11-phone-form-error.png", full_page=True)

    page.get_by_label("Email address").fill("nojs@example.com")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    sub = Subscriber.objects.get(email="nojs@example.com")
    assert sub.timezone == "UTC"  # the server-side default, no script needed
    assert "&lt;script&gt;" in mailoutbox[-1].alternatives[0][0]
    context.close()
