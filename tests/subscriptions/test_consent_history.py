"""Consent history: each consent is one ConsentRecord, and a resubscribe never rewrites
the record of how and when the subscriber left before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse

from subscriptions import services, tokens
from subscriptions.models import ConsentRecord, Subscriber
from subscriptions.tokens import Purpose

Method = ConsentRecord.UnsubscribeMethod
SIGNED_UP = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
CONFIRMED = datetime(2026, 9, 1, 8, 5, tzinfo=UTC)
LEFT = datetime(2026, 10, 3, 7, 30, tzinfo=UTC)
BACK = datetime(2026, 11, 20, 19, 45, tzinfo=UTC)
LEFT_AGAIN = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


@pytest.fixture
def reader(db, mailoutbox) -> Subscriber:
    """Signed up and confirmed, then left through the footer link."""
    with time_machine.travel(SIGNED_UP, tick=False):
        sub = services.subscriber_signup(
            email="reader@example.com", ip="203.0.113.7", user_agent="Firefox/140.0"
        )
    with time_machine.travel(CONFIRMED, tick=False):
        services.subscriber_confirm(subscriber=sub, ip="203.0.113.8")
    with time_machine.travel(LEFT, tick=False):
        services.subscriber_unsubscribe(subscriber=sub, method=Method.FOOTER_LINK)
    return sub


def _history(sub: Subscriber) -> list[tuple]:
    return [
        (
            c.signup_at,
            c.signup_ip,
            c.confirmed_at,
            c.confirmed_ip,
            c.unsubscribed_at,
            c.unsubscribe_method,
        )
        for c in sub.consents.order_by("pk")
    ]


def test_a_resubscribe_is_a_new_consent_and_keeps_the_earlier_one(reader, settings):
    settings.DIGEST_CONSENT_TEXT_VERSION = "2026-12-v2"
    with time_machine.travel(BACK, tick=False):
        services.subscriber_resubscribe(subscriber=reader, ip="198.51.100.2")

    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.ACTIVE
    assert _history(reader) == [
        (SIGNED_UP, "203.0.113.7", CONFIRMED, "203.0.113.8", LEFT, "footer-link"),
        (BACK, "198.51.100.2", BACK, "198.51.100.2", None, ""),
    ]
    first, current = reader.consents.order_by("pk")
    assert (first.signup_user_agent, first.consent_text_version) == ("Firefox/140.0", "2026-11-v1")
    assert current.consent_text_version == "2026-12-v2"  # what they agreed to this time
    assert reader.consent == current


def test_leaving_again_ends_only_the_current_consent(reader):
    with time_machine.travel(BACK, tick=False):
        services.subscriber_resubscribe(subscriber=reader, ip="198.51.100.2")
    with time_machine.travel(LEFT_AGAIN, tick=False):
        services.subscriber_unsubscribe(subscriber=reader, method=Method.ONE_CLICK)
    services.subscriber_resubscribe(subscriber=reader, ip="198.51.100.3")

    history = _history(reader)
    assert [(h[4], h[5]) for h in history] == [
        (LEFT, "footer-link"),
        (LEFT_AGAIN, "one-click"),
        (None, ""),
    ]
    assert history[2][3] == "198.51.100.3"


def test_a_resubscribe_with_an_open_consent_adds_none(db, mailoutbox):
    # A pending reader who "resubscribes" from the manage page never left: it confirms
    # the consent they gave at signup.
    sub = services.subscriber_signup(email="new@example.com", ip="203.0.113.7", user_agent="UA")
    services.subscriber_resubscribe(subscriber=sub, ip="192.0.2.9")
    assert sub.consents.count() == 1
    assert (sub.consent.signup_ip, sub.consent.confirmed_ip) == ("203.0.113.7", "192.0.2.9")


def test_the_resubscribe_page_records_a_new_consent_from_the_visitors_address(reader, client):
    url = reverse("subscriptions:resubscribe", args=[tokens.make_token(reader, Purpose.MANAGE)])
    response = client.post(url, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200
    assert [(h[1], h[4]) for h in _history(reader)] == [
        ("203.0.113.7", LEFT),
        ("198.51.100.4", None),
    ]


def test_the_database_refuses_a_second_open_consent(reader):
    services.subscriber_resubscribe(subscriber=reader, ip=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentRecord.objects.create(subscriber=reader)


def test_the_export_holds_every_consent(reader):
    with time_machine.travel(BACK, tick=False):
        services.subscriber_resubscribe(subscriber=reader, ip="198.51.100.2")
    data = services.subscriber_export(subscriber=reader)
    assert [c["unsubscribe_method"] for c in data["consent_history"]] == ["footer-link", ""]
    assert data["consent_history"][0]["unsubscribed_at"] == LEFT.isoformat()
    assert data["consent"] == data["consent_history"][-1]


def test_deleting_the_subscriber_anonymises_every_consent(reader):
    services.subscriber_resubscribe(subscriber=reader, ip="198.51.100.2")
    services.subscriber_delete(subscriber=reader)
    assert {(c.signup_ip, c.signup_user_agent, c.confirmed_ip) for c in reader.consents.all()} == {
        (None, "", None)
    }
    assert [c.unsubscribe_method for c in reader.consents.order_by("pk")] == [
        "footer-link",
        "deleted",
    ]


def test_the_admin_shows_every_consent_of_a_subscriber(reader, client):
    services.subscriber_resubscribe(subscriber=reader, ip="198.51.100.2")
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    page = client.get(reverse("admin:subscriptions_subscriber_change", args=[reader.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Footer link" in html and "198.51.100.2" in html
