"""The preferences page (signed link, no password) and the manage-link request form."""

from __future__ import annotations

import json
import re
from datetime import date

import time_machine
from django.test import Client, override_settings
from django.urls import reverse

from digest.models import Delivery, DigestRun
from subscriptions import services, tokens
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber
from subscriptions.tokens import Purpose
from tests.subscriptions.conftest import committed

REQUEST = reverse("subscriptions:manage_link_request")
SENT = reverse("subscriptions:manage_link_sent")
SCRIPT = "<script>alert(1)</script>"


def _url(name: str, sub: Subscriber) -> str:
    return reverse(f"subscriptions:{name}", args=[tokens.make_token(sub, Purpose.MANAGE)])


def _prefs(**overrides) -> dict:
    return {
        "interests": "protein folding",
        "categories": ["cs.LG"],
        "liked_papers": "",
        "followed_authors": "Demis Hassabis",
        "digest_size": "20",
        "frequency": "daily",
        "weekday": "0",
        "send_hour": "18",
        "timezone": "America/New_York",
        "paused_until": "",
        **overrides,
    }


def test_it_shows_the_current_preferences(subscriber_factory, client):
    sub = subscriber_factory(interests="graph neural networks", timezone="Asia/Tokyo", send_hour=6)
    response = client.get(_url("manage", sub))
    html = response.content.decode()
    assert "no-store" in response["Cache-Control"]  # personal page behind a secret URL
    assert "graph neural networks</textarea>" in html
    assert '<option value="Asia/Tokyo" selected>' in html
    assert '<option value="6" selected>' in html
    assert sub.email in html


def test_it_links_the_private_atom_feed_of_the_subscribers_picks(subscriber_factory, client):
    sub = subscriber_factory()
    html = client.get(_url("manage", sub)).content.decode()
    match = re.search(r'href="(http://testserver/digest/feed/[^"]+/)"', html)
    assert match, "no feed link on the preferences page"
    feed = client.get(match.group(1).removeprefix("http://testserver"))
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("application/atom+xml")


def test_it_saves_edited_preferences(subscriber_factory, client):
    sub = subscriber_factory(frequency="daily")
    url = _url("manage", sub)
    response = client.post(url, _prefs(frequency="weekly", weekday="5", liked_papers="2501.00007"))
    assert response.status_code == 302 and response["Location"] == f"{url}?saved=1"
    sub.refresh_from_db()
    assert (sub.interests, sub.frequency, sub.weekday) == ("protein folding", "weekly", 5)
    assert (sub.digest_size, sub.send_hour, sub.timezone) == (20, 18, "America/New_York")
    assert sub.followed_authors == ["Demis Hassabis"]
    assert sub.feedback.get().arxiv_id == "2501.00007"
    assert "Saved." in client.get(response["Location"]).content.decode()


@time_machine.travel(date(2026, 11, 20))
def test_it_pauses_until_a_date(subscriber_factory, client):
    sub = subscriber_factory()
    client.post(_url("manage", sub), _prefs(paused_until="2027-01-05"))
    sub.refresh_from_db()
    assert sub.paused_until == date(2027, 1, 5)
    assert "paused until 5 January 2027" in client.get(_url("manage", sub)).content.decode()


def test_it_keeps_the_input_and_says_what_to_fix(subscriber_factory, client):
    sub = subscriber_factory(interests="old")
    response = client.post(_url("manage", sub), _prefs(interests="new topic", send_hour="99"))
    html = response.content.decode()
    assert response.status_code == 400
    assert "new topic</textarea>" in html
    assert "Select a valid choice. 99 is not one of the available choices." in html
    assert Subscriber.objects.get(pk=sub.pk).interests == "old"


def test_it_requires_csrf_to_save_preferences(subscriber_factory, csrf_client):
    sub = subscriber_factory(interests="old")
    assert csrf_client.post(_url("manage", sub), _prefs()).status_code == 403
    assert Subscriber.objects.get(pk=sub.pk).interests == "old"


def test_it_escapes_script_in_interests_on_the_page(subscriber_factory, client):
    sub = subscriber_factory(interests=SCRIPT)
    html = client.get(_url("manage", sub)).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_it_lists_liked_papers_and_removes_one(subscriber_factory, paper_factory, client):
    sub = subscriber_factory()
    paper_factory(arxiv_id="2501.00001", title="Known liked paper")
    for arxiv_id in ("2501.00001", "2501.00002"):
        services.feedback_record(subscriber=sub, arxiv_id=arxiv_id, kind="like")
    html = client.get(_url("manage", sub)).content.decode()
    assert "Known liked paper" in html and "arXiv:2501.00002" in html
    response = client.post(_url("feedback_remove", sub), {"arxiv_id": "2501.00001"})
    assert response.status_code == 302
    assert list(sub.feedback.values_list("arxiv_id", flat=True)) == ["2501.00002"]


def test_it_exports_all_data_as_a_json_download(subscriber_factory, client):
    sub = subscriber_factory(email="me@example.com", interests="llm agents")
    services.feedback_record(subscriber=sub, arxiv_id="2501.00001", kind="dislike")
    response = client.get(_url("export", sub))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["subscriber"]["email"] == "me@example.com"
    assert data["subscriber"]["interests"] == "llm agents"
    assert data["feedback"][0] == {
        **data["feedback"][0],
        "arxiv_id": "2501.00001",
        "kind": "dislike",
    }


def test_it_asks_before_deleting(subscriber_factory, client):
    sub = subscriber_factory()
    response = client.get(_url("delete", sub))
    assert "Delete everything" in response.content.decode()
    assert Subscriber.objects.get(pk=sub.pk).deleted_at is None


def test_it_deletes_and_anonymises_but_keeps_deliveries(subscriber_factory, client):
    sub = subscriber_factory(email="gone@example.com", interests="private")
    run = DigestRun.objects.create(edition_date=date(2026, 11, 20))
    delivery = Delivery.objects.create(run=run, subscriber=sub, status="sent")
    manage_url = _url("manage", sub)
    response = client.post(_url("delete", sub))
    assert "Your data has been deleted" in response.content.decode()
    sub.refresh_from_db()
    assert sub.email == f"deleted-{sub.pk}@invalid" and sub.interests == ""
    assert sub.deleted_at is not None
    assert Delivery.objects.filter(pk=delivery.pk, subscriber=sub).exists()
    assert client.get(manage_url).status_code == 400  # old links are dead


def test_it_unsubscribes_from_the_page_and_offers_to_resubscribe(subscriber_factory, client):
    sub = subscriber_factory()
    client.post(_url("manage_unsubscribe", sub))
    sub.refresh_from_db()
    assert sub.status == Subscriber.Status.UNSUBSCRIBED
    assert sub.consent.unsubscribe_method == ConsentRecord.UnsubscribeMethod.PREFERENCES
    html = client.get(_url("manage", sub)).content.decode()
    assert "You're unsubscribed" in html and "Resubscribe" in html
    client.post(_url("resubscribe", sub))
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.ACTIVE


def test_it_lets_a_pending_subscriber_confirm_from_the_page(pending_subscriber, client):
    assert "not confirmed yet" in client.get(_url("manage", pending_subscriber)).content.decode()
    client.post(_url("resubscribe", pending_subscriber))
    assert Subscriber.objects.get(pk=pending_subscriber.pk).status == Subscriber.Status.ACTIVE


def test_it_revokes_old_links_and_moves_to_a_fresh_one(subscriber_factory, client):
    sub = subscriber_factory()
    old = _url("manage", sub)
    response = client.post(_url("revoke_links", sub))
    assert response.status_code == 302
    assert client.get(old).status_code == 400
    assert client.get(response["Location"]).status_code == 200


def test_it_does_not_remove_feedback_on_get(subscriber_factory, client):
    sub = subscriber_factory()
    services.feedback_record(subscriber=sub, arxiv_id="2501.00001", kind="like")
    assert client.get(_url("feedback_remove", sub) + "?arxiv_id=2501.00001").status_code == 405
    assert PaperFeedback.objects.filter(subscriber=sub).exists()


# --- "Email me a manage link" ---------------------------------------------------------


def _request_link(client: Client, email: str, ip: str = "203.0.113.1", **extra):
    with committed():
        return client.post(REQUEST, {"email": email, "website": "", **extra}, REMOTE_ADDR=ip)


def test_it_emails_a_fresh_manage_link_to_a_known_address(subscriber_factory, client, mailoutbox):
    sub = subscriber_factory(email="known@example.com")
    response = _request_link(client, "  known@EXAMPLE.com")
    assert response.status_code == 302 and response["Location"] == SENT
    [message] = mailoutbox
    assert message.to == ["known@example.com"]
    link = re.search(r"http://testserver(/manage/\S+/)", message.body).group(1)
    assert client.get(link).status_code == 200
    assert sub.email in client.get(link).content.decode()


def test_it_answers_the_same_for_an_unknown_address(subscriber_factory, client, mailoutbox):
    subscriber_factory(email="known@example.com")
    known = _request_link(client, "known@example.com")
    unknown = _request_link(client, "stranger@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [m.to for m in mailoutbox] == [["known@example.com"]]


def test_it_requires_csrf_on_the_manage_link_form(subscriber_factory, csrf_client, mailoutbox):
    subscriber_factory(email="known@example.com")
    assert csrf_client.post(REQUEST, {"email": "known@example.com"}).status_code == 403
    assert mailoutbox == []


def test_it_ignores_a_bot_on_the_manage_link_form(subscriber_factory, client, mailoutbox):
    subscriber_factory(email="known@example.com")
    response = _request_link(client, "known@example.com", website="spam")
    assert response["Location"] == SENT and mailoutbox == []


@override_settings(SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_IP="2/h")
def test_it_rate_limits_manage_link_requests_per_ip(subscriber_factory, client, mailoutbox):
    for n in range(3):
        subscriber_factory(email=f"k{n}@example.com")
    assert _request_link(client, "k0@example.com").status_code == 302
    assert _request_link(client, "k1@example.com").status_code == 302
    blocked = _request_link(client, "k2@example.com")
    assert blocked.status_code == 429 and "Too many attempts" in blocked.content.decode()
    assert len(mailoutbox) == 2


@override_settings(SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_EMAIL="2/h")
def test_it_rate_limits_manage_link_requests_per_address(subscriber_factory, client, mailoutbox):
    subscriber_factory(email="k@example.com")
    assert _request_link(client, "k@example.com", ip="192.0.2.1").status_code == 302
    assert _request_link(client, "k@example.com", ip="192.0.2.2").status_code == 302
    assert _request_link(client, "K@Example.com", ip="192.0.2.3").status_code == 429
    assert len(mailoutbox) == 2


def test_it_rejects_header_injection_on_the_manage_link_form(db, client, mailoutbox):
    response = _request_link(client, "a@example.com\r\nBcc: victim@example.org")
    assert response.status_code == 400 and mailoutbox == []
