"""RFC 8058 one-click unsubscribe, the footer link, and the resubscribe offer."""

from __future__ import annotations

from django.test import Client
from django.test.client import MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from subscriptions import services, tokens
from subscriptions.models import ConsentRecord, Subscriber
from subscriptions.tokens import Purpose
from tests.subscriptions.conftest import committed

Method = ConsentRecord.UnsubscribeMethod
BOUNDARY = "----mailclientboundary42"


def _url(sub: Subscriber) -> str:
    return reverse("subscriptions:unsubscribe", args=[tokens.make_token(sub, Purpose.UNSUBSCRIBE)])


def _assert_one_click_answer(response) -> None:
    assert response.status_code == 200
    assert not response.has_header("Location")
    assert not response.cookies  # no session, no CSRF cookie


def test_it_unsubscribes_on_a_form_encoded_one_click_post(subscriber_factory):
    sub = subscriber_factory()
    # A mail client: no cookies, no CSRF token, just the token in the URL.
    response = Client(enforce_csrf_checks=True).post(
        _url(sub), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    _assert_one_click_answer(response)
    sub.refresh_from_db()
    assert sub.status == Subscriber.Status.UNSUBSCRIBED
    assert sub.consent.unsubscribe_method == Method.ONE_CLICK
    assert sub.consent.unsubscribed_at is not None


def test_it_unsubscribes_on_a_multipart_one_click_post(subscriber_factory):
    sub = subscriber_factory()
    body = encode_multipart(BOUNDARY, {"List-Unsubscribe": "One-Click"})
    response = Client(enforce_csrf_checks=True).post(
        _url(sub), body, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    _assert_one_click_answer(response)
    assert Subscriber.objects.get(pk=sub.pk).consent.unsubscribe_method == Method.ONE_CLICK


def test_it_answers_a_repeated_one_click_post_the_same_way(subscriber_factory):
    sub = subscriber_factory()
    client = Client(enforce_csrf_checks=True)
    first = client.post(
        _url(sub), {"List-Unsubscribe": "One-Click"}, content_type=MULTIPART_CONTENT
    )
    again = client.post(
        _url(sub), {"List-Unsubscribe": "One-Click"}, content_type=MULTIPART_CONTENT
    )
    _assert_one_click_answer(first)
    _assert_one_click_answer(again)
    assert ConsentRecord.objects.get(subscriber=sub).unsubscribe_method == Method.ONE_CLICK


def test_it_only_shows_a_confirmation_page_on_get(subscriber_factory, client):
    sub = subscriber_factory()
    url = _url(sub)
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<form method="post" action="{url}">' in html
    assert ">Unsubscribe</button>" in html
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.ACTIVE
    assert client.head(url).status_code == 200
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.ACTIVE


def test_it_unsubscribes_from_the_footer_page_and_offers_to_resubscribe(subscriber_factory):
    sub = subscriber_factory()
    client = Client(enforce_csrf_checks=True)
    response = client.post(_url(sub), {"source": "footer"})
    html = response.content.decode()
    assert response.status_code == 200 and "You're unsubscribed" in html
    sub.refresh_from_db()
    assert sub.status == Subscriber.Status.UNSUBSCRIBED
    assert sub.consent.unsubscribe_method == Method.FOOTER_LINK
    resubscribe = reverse(
        "subscriptions:resubscribe", args=[tokens.make_token(sub, Purpose.MANAGE)]
    )
    assert f'href="{resubscribe}"' in html
    page = client.get(resubscribe)
    assert "Get the digest again?" in page.content.decode()
    csrf = page.cookies["csrftoken"].value
    back = client.post(resubscribe, {"csrfmiddlewaretoken": csrf})
    assert back.status_code == 200 and "You're subscribed again" in back.content.decode()
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.ACTIVE


def test_the_footer_link_of_an_unsubscribed_reader_says_so_and_offers_to_resubscribe(
    subscriber_factory, client
):
    sub = subscriber_factory(status=Subscriber.Status.UNSUBSCRIBED)
    html = client.get(_url(sub)).content.decode()
    assert "You're unsubscribed" in html and "Unsubscribe from Paper Digest?" not in html
    resubscribe = reverse(
        "subscriptions:resubscribe", args=[tokens.make_token(sub, Purpose.MANAGE)]
    )
    assert f'href="{resubscribe}"' in html


def test_it_requires_csrf_to_resubscribe(subscriber_factory, csrf_client):
    sub = subscriber_factory(status=Subscriber.Status.UNSUBSCRIBED)
    url = reverse("subscriptions:resubscribe", args=[tokens.make_token(sub, Purpose.MANAGE)])
    assert csrf_client.post(url).status_code == 403
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.UNSUBSCRIBED


def test_it_shows_a_plain_page_for_a_bad_one_click_token(db):
    response = Client(enforce_csrf_checks=True).post(
        reverse("subscriptions:unsubscribe", args=["1.1:forged:token"]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert "This link is no longer valid" in response.content.decode()


def test_it_says_unsubscribed_to_a_subscriber_who_deleted_themselves(subscriber_factory):
    sub = subscriber_factory()
    url = _url(sub)
    services.subscriber_delete(subscriber=sub)
    response = Client().post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and "You're unsubscribed" in response.content.decode()


def test_it_does_not_reactivate_an_unsubscribed_address_on_signup(
    subscriber_factory, client, signup_data, mailoutbox
):
    sub = subscriber_factory(email="left@example.com")
    services.subscriber_unsubscribe(subscriber=sub, method=Method.ONE_CLICK)
    with committed():
        client.post(reverse("subscriptions:signup"), {**signup_data, "email": "left@example.com"})
    assert Subscriber.objects.get(pk=sub.pk).status == Subscriber.Status.UNSUBSCRIBED
    [message] = mailoutbox
    assert "unsubscribed" in message.body and "/manage/" in message.body
