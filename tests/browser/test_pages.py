"""Issue #13's pages in a real browser: the short signup on a phone, ♡ likes, the live
preview, the archive and feed, and the scanner-safe confirmation and feedback pages."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from digest.models import Delivery, DigestRun
from subscriptions import tokens
from subscriptions.models import PaperFeedback, Subscriber

pytestmark = pytest.mark.browser

DAY = date(2026, 7, 2)
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def papers(paper_trend_factory):
    rows = [
        ("2607.00001", "Diffusion transformers for long video", "Video diffusion, longer.", 120),
        ("2607.00002", "Protein language models fold faster", "Proteins, folded.", 80),
        ("2607.00003", "Graph networks for retrosynthesis", "Molecules as graphs.", 40),
    ]
    return [
        paper_trend_factory(
            day=DAY,
            paper__arxiv_id=arxiv_id,
            paper__title=title,
            paper__ai_summary=summary,
            paper__upvotes=upvotes,
            paper__github_repo="https://github.com/example/code",
            paper__github_stars=321,
        ).paper
        for arxiv_id, title, summary, upvotes in rows
    ]


def _heart(page, title: str):
    return page.locator(".paper-card", has_text=title).locator(".heart")


def test_the_short_signup_fits_a_phone_and_hearts_reach_the_profile(
    site, browser, artifacts, papers
):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(site.url + "/")
    subscribe = page.get_by_role("button", name="Subscribe")
    for control in (page.get_by_label("Email address"), page.get_by_label("Your interests")):
        box = control.bounding_box()
        assert box and box["y"] + box["height"] <= PHONE["height"]
    box = subscribe.bounding_box()
    assert box and box["y"] + box["height"] <= PHONE["height"], box  # no scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not page.get_by_label("Time zone").is_visible()  # folded away
    page.screenshot(path=artifacts / "20-phone-signup-first.png")

    page.get_by_label("Email address").fill("hearts@example.com")
    page.get_by_label("Your interests").fill("protein structure")
    _heart(page, "Protein language models").tap()
    _heart(page, "Graph networks").tap()
    _heart(page, "Graph networks").tap()  # changed their mind
    page.screenshot(path=artifacts / "21-phone-hearts.png", full_page=True)
    subscribe.tap()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    sub = Subscriber.objects.get(email="hearts@example.com")
    assert list(sub.feedback.values_list("arxiv_id", "kind")) == [("2607.00002", "like")]
    context.close()


def test_hearts_work_without_javascript_on_the_preferences_page(site, browser, papers):
    sub = Subscriber.objects.create(email="prefs@example.com", interests="graphs", status="active")
    PaperFeedback.objects.create(subscriber=sub, arxiv_id="2607.00001", kind="like")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(tokens.manage_url(sub))
    assert _heart(page, "Diffusion transformers").locator("input").is_checked()
    _heart(page, "Diffusion transformers").click()  # un-like
    _heart(page, "Protein language models").click()  # like
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    liked = set(sub.feedback.filter(kind="like").values_list("arxiv_id", flat=True))
    assert liked == {"2607.00002"}
    assert _heart(page, "Protein language models").locator("input").is_checked()
    context.close()


def test_the_preview_updates_as_the_reader_types(site, browser, artifacts, papers):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + "/")
    preview = page.locator("#preview")
    assert not preview.is_visible()
    assert not page.get_by_role("button", name="Preview my digest").is_visible()  # script on
    page.get_by_label("Your interests").press_sequentially("protein language models", delay=20)
    preview.get_by_role("heading", name=re.compile("Your digest today")).wait_for()
    # Updates come as the reader types; the last one ranks the protein paper first.
    page.wait_for_function(
        "document.querySelector('#preview .paper-title').innerText.startsWith('Protein')"
    )
    assert "Why:" in preview.inner_text()
    page.screenshot(path=artifacts / "22-live-preview.png", full_page=True)

    page.get_by_label("Your interests").fill("graph networks")
    page.wait_for_function(
        "document.querySelector('#preview .paper-title').innerText.startsWith('Graph')"
    )
    context.close()


def test_the_preview_button_works_without_javascript(site, browser, papers):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url + "/")
    page.get_by_label("Your interests").fill("protein folding")
    page.get_by_role("button", name="Preview my digest").click()
    page.get_by_role("heading", name=re.compile("Your digest today")).wait_for()
    assert "Protein language models fold faster" in page.content()
    assert not Subscriber.objects.exists()
    context.close()


def test_the_archive_and_the_feed(site, browser, artifacts, papers):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + "/")
    page.get_by_role("link", name="Archive").first.click()
    page.get_by_role("heading", name="Archive").wait_for()
    assert page.title() == "Archive of trending ML papers · Paper Digest"
    page.screenshot(path=artifacts / "23-archive.png", full_page=True)
    page.get_by_role("link", name="Thu 2 July 2026").click()
    page.get_by_role("heading", name="Trending on Thu 2 July 2026").wait_for()
    assert page.locator(".paper-card").count() == 3
    assert page.locator('meta[property="og:title"]').get_attribute("content") == (
        "Trending ML papers on 2 July 2026"
    )
    assert "Code ★ 321" in page.content()
    page.screenshot(path=artifacts / "24-archive-day.png", full_page=True)

    response = page.request.get(site.url + "/feed.xml")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.body())
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title") for e in feed]
    assert "Diffusion transformers for long video" in titles
    context.close()


def test_confirmation_changes_nothing_until_the_button_and_scripts_press_it(
    site, browser, artifacts
):
    sub = Subscriber.objects.create(email="confirm@example.com", interests="graphs")
    link = tokens.confirm_url(sub)
    scanner = browser.new_context(java_script_enabled=False)  # a mail filter opening links
    page = scanner.new_page()
    page.goto(link)
    page.get_by_role("heading", name="Confirm your subscription").wait_for()
    page.screenshot(path=artifacts / "25-confirm-no-script.png", full_page=True)
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.PENDING
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You're subscribed").wait_for()
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.ACTIVE

    page.goto(link)  # the same link again
    page.get_by_role("heading", name="You're already subscribed").wait_for()
    page.screenshot(path=artifacts / "26-already-subscribed.png", full_page=True)
    scanner.close()

    other = Subscriber.objects.create(email="person@example.com", interests="graphs")
    person = browser.new_context()
    page = person.new_page()
    page.goto(tokens.confirm_url(other))
    page.get_by_role("heading", name="You're subscribed").wait_for()  # no click needed
    assert Subscriber.objects.get(pk=other.pk).status == Subscriber.Status.ACTIVE
    person.close()


def test_more_like_this_changes_nothing_until_the_button(site, browser, artifacts, papers):
    sub = Subscriber.objects.create(email="fb@example.com", interests="graphs", status="active")
    run = DigestRun.objects.create(edition_date=DAY)
    picks = [{"arxiv_id": "2607.00003", "score": 0.5, "reason": "graphs"}]
    delivery = Delivery.objects.create(run=run, subscriber=sub, picks=picks)
    link = tokens.delivery_feedback_url(sub, delivery.pk, "2607.00003", "like")

    scanner = browser.new_context(java_script_enabled=False)
    page = scanner.new_page()
    page.goto(link)
    page.get_by_role("heading", name="More papers like this?").wait_for()
    page.screenshot(path=artifacts / "27-more-like-this-no-script.png", full_page=True)
    assert not PaperFeedback.objects.exists()
    page.get_by_role("button", name="More like this").click()
    page.get_by_role("heading", name="Thanks!").wait_for()
    assert list(PaperFeedback.objects.values_list("arxiv_id", "kind")) == [("2607.00003", "like")]
    scanner.close()

    person = browser.new_context()
    page = person.new_page()
    page.goto(link.replace("/like/", "/dislike/"))
    page.get_by_role("heading", name="Thanks!").wait_for()  # pressed by the script
    assert list(PaperFeedback.objects.values_list("kind", flat=True)) == ["dislike"]
    person.close()
