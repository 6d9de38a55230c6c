"""Bodies Django cannot read and control characters: the normal 400 page, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from subscriptions import tokens
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber
from subscriptions.tokens import Purpose

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
CHARSETS = ["latin-1", "utf-16", "bogus-charset", "cp500"]


def _client() -> Client:
    # As gunicorn would: an exception is a 500 response, not a test failure.
    return Client(raise_request_exception=False)


def _post(client: Client, url: str, body: bytes, content_type: str):
    # generic() sends the bytes as they are (post() would re-encode them to the charset).
    return client.generic("POST", url, body, content_type=content_type)


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "cp500"])
@pytest.mark.parametrize("url", ["/", "/manage/", "/anymail/postmark/tracking/"])
def test_a_form_in_another_charset_gets_the_normal_400_page(url, charset):
    body = b"email=ada%40example.com&website="
    response = _post(_client(), url, body, f"{FORM}; charset={charset}")
    assert response.status_code == 400
    assert b"Bad Request" in response.content


def test_an_unknown_charset_is_read_as_utf8_as_django_does():
    body = b"email=ada%40example.com&website="
    response = _post(_client(), "/manage/", body, f"{FORM}; charset=bogus-charset")
    assert response.status_code == 302  # the manage-link form, read and accepted


@pytest.mark.parametrize("charset", CHARSETS)
def test_a_multipart_form_in_an_unknown_charset_is_not_a_500(charset):
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="email"\r\n\r\nada@example.com\r\n--XX--\r\n'
    )
    response = _post(_client(), "/", body, f"multipart/form-data; charset={charset}; boundary=XX")
    assert response.status_code < 500


@pytest.mark.parametrize("charset", CHARSETS)
def test_one_click_unsubscribe_works_whatever_the_body_declares(subscriber_factory, charset):
    reader = subscriber_factory()
    url = reverse(
        "subscriptions:unsubscribe", args=[tokens.make_token(reader, Purpose.UNSUBSCRIBE)]
    )
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    response = _post(client, url, b"List-Unsubscribe=One-Click", f"{FORM}; charset={charset}")
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED
    assert reader.consent.unsubscribe_method == ConsentRecord.UnsubscribeMethod.ONE_CLICK


def test_one_click_unsubscribe_works_with_a_garbage_body(subscriber_factory):
    reader = subscriber_factory()
    url = reverse(
        "subscriptions:unsubscribe", args=[tokens.make_token(reader, Purpose.UNSUBSCRIBE)]
    )
    response = _post(_client(), url, b"\xff\x00\xfe", f"{FORM}; charset=utf-16")
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED


def test_a_nul_in_a_posted_arxiv_id_is_a_400(subscriber_factory):
    reader = subscriber_factory()
    PaperFeedback.objects.create(subscriber=reader, arxiv_id="2501.01234", kind="like")
    token = tokens.make_token(reader, Purpose.MANAGE)
    url = reverse("subscriptions:feedback_remove", args=[token])
    response = _client().post(url, {"arxiv_id": "2501.01234\x00"})
    assert response.status_code == 400
    assert PaperFeedback.objects.count() == 1


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "a\x7fb"])
def test_control_characters_in_the_query_or_a_form_are_a_400(value):
    client = _client()
    assert client.get("/", {"q": value}).status_code == 400
    assert client.get("/manage/", {value: "1"}).status_code == 400
    assert client.post("/manage/", {"email": value}).status_code == 400


def test_a_nul_in_the_path_is_a_400():
    assert _client().get("/manage/abc%00def/").status_code == 400


def test_line_breaks_in_a_form_are_fine(subscriber_factory):
    reader = subscriber_factory()
    url = reverse("subscriptions:manage", args=[tokens.make_token(reader, Purpose.MANAGE)])
    response = _client().get(url, {"note": "a\r\nb\tc"})
    assert response.status_code == 200
