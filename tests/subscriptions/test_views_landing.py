"""The landing page (signup first, cards with ♡), the live preview, the small pages."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from digest import preview
from digest.catalogue import catalogue_ingest
from digest.sources.base import FetchResult, PaperData
from subscriptions import tokens
from subscriptions.models import PaperFeedback, Subscriber
from subscriptions.tokens import Purpose
from tests.digest.test_pages import CACHE_DOWN

DAY = date(2026, 7, 1)


@pytest.fixture(autouse=True)
def _fresh_ranker():
    preview.reset()
    yield
    preview.reset()


@pytest.fixture
def trending(paper_trend_factory):
    """Three papers that trended on DAY, best first."""
    return [
        paper_trend_factory(
            day=DAY,
            paper__arxiv_id=arxiv_id,
            paper__title=title,
            paper__abstract=abstract,
            paper__upvotes=upvotes,
            paper__ai_summary=summary,
            paper__thumbnail_url="https://cdn.example/thumb.png",
        ).paper
        for arxiv_id, title, abstract, upvotes, summary in [
            ("2607.00001", "Diffusion models for video", "We study diffusion. More.", 90, ""),
            (
                "2607.00002",
                "Protein folding at scale",
                "Proteins fold. More.",
                50,
                "AI says: folds.",
            ),
            ("2607.00003", "Graph networks for chemistry", "Graphs and molecules.", 10, ""),
        ]
    ]


def _csrf(client: Client, html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_the_landing_page_leads_with_the_form_and_shows_cards_with_hearts(db, client, trending):
    html = client.get("/").content.decode()
    form_at, cards_at = html.index('<form id="signup"'), html.index('class="paper-card"')
    assert form_at < cards_at  # signup first
    assert html.index("Your interests") < html.index("<details") < html.index("Time zone")
    assert "Diffusion models for video" in html and "We study diffusion." in html
    assert "AI says: folds." in html  # the AI summary before the abstract
    assert 'src="https://cdn.example/thumb.png"' in html
    assert html.count('type="checkbox" name="liked"') == 3 and 'form="signup"' in html
    assert 'href="/archive/"' in html and 'href="/feed.xml"' in html
    assert '<meta property="og:title"' in html and '<meta name="description"' in html
    assert 'rel="icon"' in html


def test_each_visitor_gets_their_own_csrf_token_from_the_cached_page(db, trending):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    one, two = first.get("/"), second.get("/")
    assert "csrf-token-placeholder" not in one.content.decode()
    token = _csrf(first, one.content.decode())
    assert token != _csrf(second, two.content.decode())
    data = {"email": "csrf@example.com", "interests": "graphs", "digest_size": "10"}
    data |= {"frequency": "daily", "weekday": "0", "send_hour": "7", "timezone": "UTC"}
    assert first.post("/", {**data, "csrfmiddlewaretoken": token}).status_code == 302


def test_the_landing_page_is_served_when_the_cache_is_down(db, client, settings, trending):
    settings.CACHES = CACHE_DOWN
    response = client.get("/")
    assert response.status_code == 200
    assert "Diffusion models for video" in response.content.decode()


def test_a_fetch_changes_the_cached_landing_page(db, client, django_capture_on_commit_callbacks):
    def fetch(arxiv_id: str, title: str) -> None:
        record = PaperData(arxiv_id=arxiv_id, title=title, source="hf_api", upvotes=5)
        with django_capture_on_commit_callbacks(execute=True):
            catalogue_ingest(source="hf_api", day=DAY, result=FetchResult(papers=[record]))

    fetch("2607.00011", "Before the fetch")
    assert "Before the fetch" in client.get("/").content.decode()
    fetch("2607.00012", "Brought by the fetch")
    assert "Brought by the fetch" in client.get("/").content.decode()


def test_hearts_ticked_on_the_cards_become_liked_papers(db, client, trending, signup_data):
    data = {**signup_data, "liked_papers": "2501.01234", "liked": ["2607.00002", "2607.00003"]}
    assert client.post("/", data).status_code == 302
    sub = Subscriber.objects.get()
    liked = set(sub.feedback.filter(kind="like").values_list("arxiv_id", flat=True))
    assert liked == {"2501.01234", "2607.00002", "2607.00003"}


def test_a_heart_that_is_not_an_arxiv_id_is_a_clear_error(db, client, trending, signup_data):
    response = client.post("/", {**signup_data, "liked": ["<script>"]})
    assert response.status_code == 400
    assert "is not an arXiv id" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_after_an_error_the_ticked_hearts_stay_ticked(db, client, trending, signup_data):
    response = client.post("/", {**signup_data, "email": "nope", "liked": ["2607.00002"]})
    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'value="2607.00002" form="signup" checked', html)
    assert not re.search(r'value="2607.00001" form="signup" checked', html)


def test_a_rate_limited_signup_gets_a_small_page(db, client, settings, trending, signup_data):
    settings.SUBSCRIPTIONS_SIGNUP_RATE_PER_IP = "1/h"
    client.post("/", {**signup_data, "email": "one@example.com"})
    blocked = client.post("/", {**signup_data, "email": "two@example.com"})
    html = blocked.content.decode()
    assert blocked.status_code == 429 and "Too many attempts" in html
    assert blocked["Retry-After"] == "3600"
    assert "paper-card" not in html and "<form" not in html and len(html) < 1000


# --- the preview ------------------------------------------------------------------------


def _preview(client: Client, **fields) -> str:
    data = {"interests": "protein folding", "digest_size": "5", "frequency": "daily"}
    data |= {"weekday": "0", "send_hour": "7", "timezone": "UTC", **fields}
    return client.post(reverse("subscriptions:preview"), data, HTTP_X_PREVIEW="1")


def test_the_preview_ranks_todays_papers_for_the_typed_profile(db, client, trending):
    response = _preview(client)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html  # a fragment
    assert html.index("Protein folding at scale") < html.index("Diffusion models for video")
    assert "Why:" in html


def test_the_preview_uses_the_same_ranker_as_the_emails(db, client, trending):
    from digest import ranking
    from digest.ranking import inputs

    papers = [t for t in trending]
    candidates = [inputs.candidate_from_paper(p, today=DAY) for p in papers]
    profile = ranking.Profile(key=1, interests=ranking.parse_interests("graph chemistry"), k=3)
    (expected,) = ranking.rank_for_all(candidates, [profile])
    html = _preview(client, interests="graph chemistry", digest_size="5").content.decode()
    titles = {p.arxiv_id: p.title for p in papers}
    shown = [t for t in re.findall(r'rel="noopener">([^<]+)</a></h3>', html)]
    assert shown == [titles[pick.arxiv_id] for pick in expected]
    for pick in expected:
        assert f"Why: {pick.reason}" in html


def test_a_heart_changes_the_preview(db, client, trending):
    plain = _preview(client, interests="chemistry").content.decode()
    liked = _preview(client, interests="chemistry", liked=["2607.00002"]).content.decode()
    assert plain != liked


def test_the_preview_without_interests_says_what_to_do(db, client, trending):
    html = _preview(client, interests="").content.decode()
    assert "Type a topic" in html


def test_the_preview_button_without_javascript_gets_a_page(db, client, trending):
    data = {"interests": "protein folding", "digest_size": "5", "frequency": "daily"}
    data |= {"weekday": "0", "send_hour": "7", "timezone": "UTC"}
    response = client.post(reverse("subscriptions:preview"), data)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html and "Protein folding at scale" in html


def test_the_preview_needs_csrf(db, trending):
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("subscriptions:preview"), {"interests": "x"}).status_code == 403


def test_the_preview_with_no_papers_yet_says_so(db, client):
    assert "No papers fetched yet" in _preview(client).content.decode()


def test_the_preview_is_rate_limited(db, client, settings, trending):
    settings.SUBSCRIPTIONS_PREVIEW_RATE_PER_IP = "2/m"
    assert [_preview(client).status_code for _ in range(3)] == [200, 200, 429]


def test_the_preview_works_with_the_cache_down(db, client, settings, trending):
    settings.CACHES = CACHE_DOWN
    assert "Protein folding at scale" in _preview(client).content.decode()


# --- preferences: the same cards and hearts ------------------------------------------------


def _manage(sub: Subscriber) -> str:
    return reverse("subscriptions:manage", args=[tokens.make_token(sub, Purpose.MANAGE)])


def _prefs(**overrides) -> dict:
    return {
        "interests": "protein folding",
        "digest_size": "10",
        "frequency": "daily",
        "weekday": "0",
        "send_hour": "7",
        "timezone": "UTC",
        "paused_until": "",
        **overrides,
    }


def test_the_preferences_page_shows_the_cards_with_liked_ones_ticked(
    subscriber_factory, client, trending
):
    sub = subscriber_factory()
    PaperFeedback.objects.create(subscriber=sub, arxiv_id="2607.00002", kind="like")
    html = client.get(_manage(sub)).content.decode()
    assert re.search(r'value="2607.00002" form="prefs" checked', html)
    assert not re.search(r'value="2607.00001" form="prefs" checked', html)
    assert 'data-preview-url="/preview/"' in html


def test_hearts_on_the_preferences_page_like_and_unlike(subscriber_factory, client, trending):
    sub = subscriber_factory()
    PaperFeedback.objects.create(subscriber=sub, arxiv_id="2607.00002", kind="like")
    PaperFeedback.objects.create(subscriber=sub, arxiv_id="2501.00009", kind="like")  # not shown
    shown = ["2607.00001", "2607.00002", "2607.00003"]
    response = client.post(_manage(sub), _prefs(shown=shown, liked=["2607.00003"]))
    assert response.status_code == 302
    liked = set(sub.feedback.filter(kind="like").values_list("arxiv_id", flat=True))
    assert liked == {"2607.00003", "2501.00009"}


# --- small pages ---------------------------------------------------------------------------


def test_the_privacy_page_says_what_why_how_long_and_how_to_export_or_delete(db, client):
    html = client.get("/privacy/").content.decode()
    for words in ("What we store", "For how long", "Export or delete", "3 days"):
        assert words in html
    assert reverse("subscriptions:manage_link_request") in html
    assert 'href="/privacy/"' in client.get("/").content.decode()


def test_the_favicon_is_there(db, client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


def test_a_liked_paper_from_another_day_steers_the_preview_as_in_an_edition(
    db, client, trending, paper_factory
):
    paper_factory(
        arxiv_id="2601.00077",
        title="Retrosynthesis planning with graph networks",
        abstract="Graph networks plan retrosynthesis routes for molecules.",
    )
    plain = _preview(client, interests="weather").content.decode()
    steered = _preview(client, interests="weather", liked_papers="2601.00077").content.decode()
    first = re.compile(r'rel="noopener">([^<]+)</a></h3>')
    assert first.findall(plain)[0] == "Diffusion models for video"  # by upvotes
    assert first.findall(steered)[0] == "Graph networks for chemistry"
    assert "which you liked" in steered
