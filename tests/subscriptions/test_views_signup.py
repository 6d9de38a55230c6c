"""The landing page and its signup form, including every abuse case."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from subscriptions.models import Subscriber
from tests.subscriptions.conftest import committed

SIGNUP = reverse("subscriptions:signup")
DONE = reverse("subscriptions:signup_done")
SCRIPT = '<script>alert("x")</script>'


def _post(client: Client, data: dict, ip: str = "203.0.113.1", **extra):
    with committed():
        return client.post(SIGNUP, data, REMOTE_ADDR=ip, **extra)


def test_it_shows_todays_trending_papers(paper_trend_factory, client):
    trend = paper_trend_factory(paper__title="Attention is still all you need", upvotes=42)
    trend.paper.upvotes = 42
    trend.paper.save()
    html = client.get(SIGNUP).content.decode()
    assert "Attention is still all you need" in html
    assert "▲ 42" in html
    assert f"https://huggingface.co/papers/{trend.paper.arxiv_id}" in html


def test_it_works_with_an_empty_catalogue(db, client):
    response = client.get(SIGNUP)
    assert response.status_code == 200
    assert "No papers fetched yet" in response.content.decode()


def test_it_loads_nothing_from_another_site_and_labels_every_field(db, client):
    html = client.get(SIGNUP).content.decode()
    assert not re.search(r'<(link|script|img)[^>]+(href|src)="(https?:)?//', html)
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html
    for field in ("email", "interests", "liked_papers", "followed_authors", "timezone"):
        assert f'<label for="id_{field}"' in html
    assert "<legend>" in html  # radio and checkbox groups are fieldsets


def test_it_signs_up_and_sends_a_confirmation(db, client, signup_data, mailoutbox):
    response = _post(client, signup_data, HTTP_USER_AGENT="TestBrowser/1.0")
    assert response.status_code == 302 and response["Location"] == DONE
    sub = Subscriber.objects.get()
    assert sub.email == "Ada.Lovelace@example.com"
    assert sub.status == Subscriber.Status.PENDING
    assert sub.consent.signup_ip == "203.0.113.1"
    assert sub.consent.signup_user_agent == "TestBrowser/1.0"
    assert [m.to for m in mailoutbox] == [["Ada.Lovelace@example.com"]]


def test_it_rejects_a_post_without_a_csrf_token(db, csrf_client, signup_data, mailoutbox):
    response = csrf_client.post(SIGNUP, signup_data)
    assert response.status_code == 403
    assert not Subscriber.objects.exists() and mailoutbox == []


def test_it_accepts_a_post_with_the_csrf_token_from_the_page(db, csrf_client, signup_data):
    token = csrf_client.get(SIGNUP).cookies["csrftoken"].value
    response = csrf_client.post(SIGNUP, {**signup_data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Subscriber.objects.count() == 1


def test_it_pretends_success_to_a_bot_that_fills_the_honeypot(db, client, signup_data, mailoutbox):
    response = _post(client, {**signup_data, "website": "http://cheap-pills.example"})
    assert response.status_code == 302 and response["Location"] == DONE
    assert not Subscriber.objects.exists() and mailoutbox == []


def test_it_hides_the_honeypot_from_people(db, client):
    html = client.get(SIGNUP).content.decode()
    assert re.search(r'<div class="hp" aria-hidden="true">.*name="website"', html, re.S)


@override_settings(
    SUBSCRIPTIONS_SIGNUP_RATE_PER_IP="2/h", SUBSCRIPTIONS_SIGNUP_RATE_PER_EMAIL="50/h"
)
def test_it_rate_limits_signups_per_ip(db, client, signup_data, mailoutbox):
    for n in range(2):
        assert _post(client, {**signup_data, "email": f"r{n}@example.com"}).status_code == 302
    blocked = _post(client, {**signup_data, "email": "r2@example.com"})
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.content.decode()
    assert not Subscriber.objects.filter(email="r2@example.com").exists()
    assert len(mailoutbox) == 2
    other_ip = _post(client, {**signup_data, "email": "r3@example.com"}, ip="198.51.100.2")
    assert other_ip.status_code == 302


@override_settings(
    SUBSCRIPTIONS_SIGNUP_RATE_PER_IP="50/h", SUBSCRIPTIONS_SIGNUP_RATE_PER_EMAIL="2/h"
)
def test_it_rate_limits_signups_per_address(db, client, signup_data, mailoutbox):
    for n in range(2):
        assert _post(client, signup_data, ip=f"198.51.100.{n + 1}").status_code == 302
    # Same address, other case, from yet another IP: still the same address.
    blocked = _post(client, {**signup_data, "email": "ADA.LOVELACE@example.com"}, ip="192.0.2.9")
    assert blocked.status_code == 429
    assert len(mailoutbox) == 2  # the confirmation, then one manage email
    assert (
        _post(client, {**signup_data, "email": "bob@example.com"}, ip="192.0.2.9").status_code
        == 302
    )


def test_it_gives_a_known_address_the_same_response_and_a_manage_email(
    subscriber_factory, client, signup_data, mailoutbox
):
    new = _post(client, {**signup_data, "email": "new@example.com"})
    subscriber_factory(email="known@example.com")
    known = _post(client, {**signup_data, "email": "known@example.com"})
    assert (new.status_code, new["Location"]) == (known.status_code, known["Location"])
    assert new.content == known.content
    assert Subscriber.objects.count() == 2
    confirm, manage = mailoutbox
    assert "/confirm/" in confirm.body
    assert manage.to == ["known@example.com"]
    assert "/manage/" in manage.body and "/confirm/" not in manage.body


def test_it_keeps_everything_typed_when_the_form_has_an_error(db, client, signup_data):
    response = _post(client, {**signup_data, "email": "ada-at-example.com"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid email address." in html
    assert 'value="ada-at-example.com"' in html
    assert "diffusion models, retrieval-augmented generation</textarea>" in html
    assert "2501.01234\nhttps://arxiv.org/abs/2502.04321v2</textarea>" in html
    assert "Yann LeCun, Fei-Fei Li</textarea>" in html
    assert re.search(r'value="cs.LG"[^>]*checked', html)
    assert re.search(r'value="weekly"[^>]*checked', html)
    assert re.search(r'value="5"[^>]*checked', html)
    assert '<option value="Europe/Paris" selected>' in html
    assert '<option value="8" selected>' in html
    assert not Subscriber.objects.exists()


def test_it_says_which_field_to_fix(db, client, signup_data):
    html = _post(client, {**signup_data, "liked_papers": "not a paper"}).content.decode()
    assert '<a href="#id_liked_papers">Papers you like (optional)</a>' in html
    assert "not a paper" in html


@pytest.mark.parametrize(
    "email", ["ada@example.com\r\nBcc: victim@example.org", "ada@example.com\nSubject: hi"]
)
def test_it_rejects_header_injection_in_the_address(db, client, signup_data, mailoutbox, email):
    response = _post(client, {**signup_data, "email": email})
    assert response.status_code == 400
    assert "line breaks" in response.content.decode()
    assert not Subscriber.objects.exists() and mailoutbox == []


def test_it_rejects_an_oversized_field(db, client, signup_data, mailoutbox):
    response = _post(client, {**signup_data, "interests": "x" * 1001})
    assert response.status_code == 400
    assert "at most 1000 characters" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_it_escapes_script_in_interests_on_the_error_page(db, client, signup_data):
    html = _post(client, {**signup_data, "email": "bad", "interests": SCRIPT}).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_it_escapes_script_in_interests_in_the_confirmation_email(
    db, client, signup_data, mailoutbox
):
    _post(client, {**signup_data, "interests": f"{SCRIPT}\r\nBcc: victim@example.org"})
    [message] = mailoutbox
    html = message.alternatives[0][0]
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html
    assert message.bcc == [] and "Bcc" not in message.message()
    assert message.to == ["Ada.Lovelace@example.com"]


def test_it_shows_a_check_your_inbox_page(db, client):
    assert "Check your inbox" in client.get(DONE).content.decode()
