"""Signed links: tampered, expired, reused, revoked and key-rotated tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from subscriptions import services, tokens
from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose

BAD_LINK = "This link is no longer valid"
OLD_KEY = "old-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789"
NEW_KEY = "new-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789"
URL_NAMES = {
    Purpose.CONFIRM: "subscriptions:confirm",
    Purpose.MANAGE: "subscriptions:manage",
    Purpose.UNSUBSCRIBE: "subscriptions:unsubscribe",
}


def _url(subscriber: Subscriber, purpose: Purpose) -> str:
    return reverse(URL_NAMES[purpose], args=[tokens.make_token(subscriber, purpose)])


def _assert_bad_link(response) -> None:
    html = response.content.decode()
    assert response.status_code == 400
    assert BAD_LINK in html
    assert reverse("subscriptions:manage_link_request") in html  # a way to get a new one


def test_opening_the_confirmation_link_changes_nothing(pending_subscriber, client):
    # Mail scanners open every link: the GET shows one button (pressed by script for a person).
    response = client.get(_url(pending_subscriber, Purpose.CONFIRM))
    html = response.content.decode()
    assert response.status_code == 200 and "Confirm my subscription" in html
    assert "data-autosubmit" in html and "js/autosubmit.js" in html
    pending_subscriber.refresh_from_db()
    assert pending_subscriber.status == Subscriber.Status.PENDING


def test_it_confirms_when_the_button_is_pressed(pending_subscriber, client):
    response = client.post(_url(pending_subscriber, Purpose.CONFIRM), REMOTE_ADDR="192.0.2.4")
    assert response.status_code == 200
    assert "You're subscribed" in response.content.decode()
    pending_subscriber.refresh_from_db()
    assert pending_subscriber.status == Subscriber.Status.ACTIVE
    assert pending_subscriber.consent.confirmed_ip == "192.0.2.4"
    assert "/manage/" in response.content.decode()


@pytest.mark.parametrize("purpose", list(URL_NAMES))
def test_it_rejects_a_tampered_token(pending_subscriber, client, purpose):
    token = tokens.make_token(pending_subscriber, purpose)
    value, _, signature = token.rpartition(":")
    forged = f"{value}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
    _assert_bad_link(client.get(reverse(URL_NAMES[purpose], args=[forged])))
    pending_subscriber.refresh_from_db()
    assert pending_subscriber.status == Subscriber.Status.PENDING


def test_it_rejects_a_token_whose_subscriber_id_was_changed(subscriber_factory, client):
    victim = subscriber_factory(email="victim@example.com")
    attacker = subscriber_factory()
    token = tokens.make_token(attacker, Purpose.MANAGE)
    forged = token.replace(f"{attacker.pk}.", f"{victim.pk}.", 1)
    response = client.get(reverse("subscriptions:manage", args=[forged]))
    _assert_bad_link(response)
    assert "victim@example.com" not in response.content.decode()


@pytest.mark.parametrize("name", ["confirm", "manage", "unsubscribe", "feedback", "export"])
@pytest.mark.parametrize("garbage", ["x", "1.1:abc:def", "::::", "9999.1:1tZ:sig"])
def test_it_never_fails_on_garbage_tokens(db, client, name, garbage):
    _assert_bad_link(client.get(reverse(f"subscriptions:{name}", args=[garbage])))


def test_it_expires_the_confirmation_link_after_three_days(pending_subscriber, client):
    url = _url(pending_subscriber, Purpose.CONFIRM)
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1)):
        _assert_bad_link(client.get(url))
    pending_subscriber.refresh_from_db()
    assert pending_subscriber.status == Subscriber.Status.PENDING
    with time_machine.travel(timezone.now() + timedelta(days=2, hours=23)):
        assert client.get(url).status_code == 200


def test_it_keeps_manage_links_alive_for_months_but_not_for_ever(subscriber_factory, client):
    url = _url(subscriber_factory(), Purpose.MANAGE)
    with time_machine.travel(timezone.now() + timedelta(days=150)):
        assert client.get(url).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=181)):
        _assert_bad_link(client.get(url))


def test_it_accepts_a_confirmation_link_only_once(pending_subscriber, client):
    url = _url(pending_subscriber, Purpose.CONFIRM)
    assert client.post(url).status_code == 200
    first_confirmed_at = Subscriber.objects.get(pk=pending_subscriber.pk).confirmed_at
    for again in (client.get(url), client.post(url)):
        # A reused link says where they stand, with the preferences link.
        html = again.content.decode()
        assert again.status_code == 200 and "You're already subscribed" in html
        assert "/manage/" in html
    assert Subscriber.objects.get(pk=pending_subscriber.pk).confirmed_at == first_confirmed_at


def test_it_does_not_let_an_old_confirmation_link_undo_an_unsubscribe(pending_subscriber, client):
    url = _url(pending_subscriber, Purpose.CONFIRM)
    services.subscriber_unsubscribe(subscriber=pending_subscriber, method="footer-link")
    _assert_bad_link(client.get(url))
    _assert_bad_link(client.post(url))
    assert Subscriber.objects.get(pk=pending_subscriber.pk).status == "unsubscribed"


@pytest.mark.parametrize("purpose", [Purpose.MANAGE, Purpose.UNSUBSCRIBE])
def test_it_rejects_links_revoked_by_a_token_version_bump(subscriber_factory, client, purpose):
    sub = subscriber_factory()
    url = _url(sub, purpose)
    services.subscriber_revoke_links(subscriber=sub)
    _assert_bad_link(client.get(url))
    assert client.get(_url(sub, purpose)).status_code == 200


def test_it_does_not_accept_a_token_for_another_purpose(subscriber_factory, client):
    sub = subscriber_factory()
    unsubscribe_token = tokens.make_token(sub, Purpose.UNSUBSCRIBE)
    _assert_bad_link(client.get(reverse("subscriptions:manage", args=[unsubscribe_token])))


def test_it_keeps_links_valid_across_a_key_rotation(subscriber_factory):
    sub = subscriber_factory()
    client = Client()
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        url = _url(sub, Purpose.MANAGE)
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        assert client.get(url).status_code == 200
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        _assert_bad_link(client.get(url))


def test_it_shows_the_same_page_for_a_deleted_subscriber_as_for_garbage(subscriber_factory, client):
    sub = subscriber_factory(email="erased@example.com")
    url = _url(sub, Purpose.MANAGE)
    services.subscriber_delete(subscriber=sub)
    deleted = client.get(url)
    garbage = client.get(reverse("subscriptions:manage", args=["garbage"]))
    _assert_bad_link(deleted)
    assert deleted.content == garbage.content


def test_reading_a_token_gives_the_subscriber_as_the_orm_reads_them(subscriber_factory):
    sub = subscriber_factory(email="raw@example.com", interests="agents")
    token = tokens.make_token(sub, Purpose.MANAGE)
    got = tokens.read_token(token, Purpose.MANAGE).subscriber
    expected = Subscriber.objects.get(pk=sub.pk)
    fields = [f.attname for f in Subscriber._meta.concrete_fields]
    assert [getattr(got, f) for f in fields] == [getattr(expected, f) for f in fields]


@pytest.mark.parametrize("pk", ["", "abc", "²", "-1", "1 OR 1=1"])
def test_a_signed_token_naming_no_subscriber_id_is_unknown(db, pk):
    token = tokens.sign(f"{pk}.1", Purpose.MANAGE)
    with pytest.raises(tokens.UnknownSubscriber):
        tokens.read_token(token, Purpose.MANAGE)
