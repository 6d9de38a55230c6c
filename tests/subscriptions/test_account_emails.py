"""Transactional emails: sent by a task after the commit, never to a suppressed address,
and the public pages answer the same whatever the address."""

from __future__ import annotations

import smtplib

import pytest
from celery.exceptions import Retry
from django.urls import reverse

from subscriptions import services
from subscriptions.models import ConsentRecord, Subscriber
from subscriptions.tasks import send_account_email
from tests.subscriptions.conftest import committed

Method = ConsentRecord.UnsubscribeMethod
SIGNUP = reverse("subscriptions:signup")
REQUEST = reverse("subscriptions:manage_link_request")

pytestmark = pytest.mark.django_db


def _suppressed(subscriber_factory, email: str, how: str) -> Subscriber:
    reader = subscriber_factory(email=email)
    ConsentRecord.objects.create(subscriber=reader)
    if how == "soft":
        reader.soft_bounce_count = 3
        reader.save()
    method = Method.COMPLAINT if how == "complaint" else Method.BOUNCE
    services.subscriber_unsubscribe(subscriber=reader, method=method)
    return reader


def test_no_email_leaves_inside_the_request(
    subscriber_factory, client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber_factory(email="known@example.com")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(REQUEST, {"email": "known@example.com", "website": ""})
    assert response.status_code == 302
    assert mailoutbox == []  # the request only queued the task
    assert len(queued) == 1
    queued[0]()
    assert [m.to for m in mailoutbox] == [["known@example.com"]]


def test_known_and_unknown_addresses_queue_the_same_work(
    subscriber_factory, client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber_factory(email="known@example.com")
    with django_capture_on_commit_callbacks(execute=True) as known:
        client.post(REQUEST, {"email": "known@example.com", "website": ""})
    with django_capture_on_commit_callbacks(execute=True) as unknown:
        client.post(REQUEST, {"email": "stranger@example.com", "website": ""})
    assert (len(known), len(unknown)) == (1, 1)
    assert [m.to for m in mailoutbox] == [["known@example.com"]]


def test_signup_sends_its_confirmation_after_the_commit(
    client, signup_data, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert client.post(SIGNUP, signup_data).status_code == 302
    assert mailoutbox == [] and len(queued) == 1
    queued[0]()
    assert "/confirm/" in mailoutbox[0].body


@pytest.mark.parametrize("how", ["hard", "complaint", "soft"])
def test_a_suppressed_address_gets_no_email_and_the_same_pages(
    subscriber_factory, client, signup_data, mailoutbox, how
):
    _suppressed(subscriber_factory, "gone@example.com", how)
    subscriber_factory(email="known@example.com")

    def journey(email: str) -> list[tuple[int, str, bytes]]:
        pages = []
        for url, data in ((SIGNUP, {**signup_data, "email": email}), (REQUEST, {"email": email})):
            with committed():
                response = client.post(url, {**data, "website": ""})
            pages.append((response.status_code, response["Location"], b""))
            pages.append((200, "", client.get(response["Location"]).content))
        return pages

    suppressed, known = journey("gone@example.com"), journey("known@example.com")
    assert suppressed == known
    assert all(m.to == ["known@example.com"] for m in mailoutbox)
    assert len(mailoutbox) == 2  # the known reader's two manage-link emails


def test_a_reader_back_through_a_signed_link_is_no_longer_suppressed(subscriber_factory):
    reader = _suppressed(subscriber_factory, "back@example.com", "hard")
    assert services.subscriber_is_suppressed(subscriber=reader)
    services.subscriber_resubscribe(subscriber=reader, ip=None)
    assert not services.subscriber_is_suppressed(subscriber=reader)


def test_a_plain_unsubscribe_is_not_a_suppression(subscriber_factory, mailoutbox):
    reader = subscriber_factory(email="left@example.com")
    services.subscriber_unsubscribe(subscriber=reader, method=Method.ONE_CLICK)
    assert services.account_email_send(kind="manage-link", email="left@example.com")
    assert len(mailoutbox) == 1


def test_the_task_sends_nothing_to_an_erased_reader(subscriber_factory, mailoutbox):
    reader = subscriber_factory(email="erased@example.com")
    services.subscriber_delete(subscriber=reader)
    assert not send_account_email.apply(
        kwargs={"kind": "manage-link", "subscriber_id": reader.pk}
    ).get()
    assert mailoutbox == []


def test_a_mail_server_error_retries_the_task(subscriber_factory, monkeypatch, settings):
    reader = subscriber_factory(email="known@example.com")
    calls = []

    def refuse(self, *args, **kwargs):
        calls.append(1)
        raise smtplib.SMTPServerDisconnected("try later")

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", refuse)
    monkeypatch.setattr(send_account_email, "retry_backoff", False)
    # Eagerly, Celery raises Retry instead of queueing the next attempt.
    with pytest.raises(Retry):
        send_account_email.apply(kwargs={"kind": "manage-link", "subscriber_id": reader.pk})
    assert len(calls) == 1
