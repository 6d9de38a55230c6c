from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.conf import settings

from digest.models import Delivery, DigestRun, TrackingEvent
from subscriptions import services
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber
from tests.subscriptions.conftest import committed

SIGNUP_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CONFIRM_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
Method = ConsentRecord.UnsubscribeMethod


def _signup(email: str = "ada@example.com", **prefs) -> Subscriber:
    with committed():
        return services.subscriber_signup(
            email=email,
            ip="203.0.113.7",
            user_agent="Mozilla/5.0 (X11; Linux) Firefox/140.0",
            interests=prefs.pop("interests", "diffusion models"),
            **prefs,
        )


def test_it_stores_a_pending_subscriber_with_preferences(db, mailoutbox):
    sub = _signup(
        email=" Ada@Example.COM ",
        categories=["cs.LG"],
        followed_authors=["Fei-Fei Li"],
        digest_size=20,
        frequency="weekly",
        weekday=4,
        send_hour=6,
        timezone="Asia/Tokyo",
        liked_papers=["2501.01234"],
    )
    sub.refresh_from_db()
    assert sub.email == "Ada@example.com"
    assert sub.status == Subscriber.Status.PENDING
    assert (sub.categories, sub.followed_authors) == (["cs.LG"], ["Fei-Fei Li"])
    assert (sub.digest_size, sub.frequency, sub.weekday) == (20, "weekly", 4)
    assert (sub.send_hour, sub.timezone) == (6, "Asia/Tokyo")
    feedback = sub.feedback.get()
    assert (feedback.arxiv_id, feedback.kind, feedback.origin) == ("2501.01234", "like", "signup")


def test_it_records_consent_at_signup_and_at_confirmation(db, mailoutbox):
    with time_machine.travel(SIGNUP_AT, tick=False):
        sub = _signup()
    with time_machine.travel(CONFIRM_AT, tick=False):
        services.subscriber_confirm(subscriber=sub, ip="198.51.100.9")
    consent = ConsentRecord.objects.get(subscriber=sub)
    assert consent.signup_at == SIGNUP_AT
    assert consent.signup_ip == "203.0.113.7"
    assert consent.signup_user_agent == "Mozilla/5.0 (X11; Linux) Firefox/140.0"
    assert consent.consent_text_version == settings.DIGEST_CONSENT_TEXT_VERSION
    assert consent.confirmed_at == CONFIRM_AT
    assert consent.confirmed_ip == "198.51.100.9"
    sub.refresh_from_db()
    assert (sub.status, sub.confirmed_at) == (Subscriber.Status.ACTIVE, CONFIRM_AT)


def test_it_truncates_a_huge_user_agent(db, mailoutbox):
    sub = services.subscriber_signup(
        email="ua@example.com", ip=None, user_agent="x" * 5000, interests="rl"
    )
    assert len(ConsentRecord.objects.get(subscriber=sub).signup_user_agent) == 512


def test_it_sends_a_confirmation_email_with_the_link(db, mailoutbox):
    sub = _signup()
    [message] = mailoutbox
    assert message.to == ["ada@example.com"]
    assert "Confirm" in message.subject
    html = message.alternatives[0][0]
    assert "/confirm/" in message.body and "/confirm/" in html
    assert sub.status == Subscriber.Status.PENDING


def test_it_sends_a_manage_email_to_a_known_address_and_changes_nothing(
    subscriber_factory, mailoutbox
):
    known = subscriber_factory(email="known@example.com", interests="robotics", digest_size=10)
    returned = _signup(email="KNOWN@example.com", interests="attacker's interests", digest_size=5)
    assert returned.pk == known.pk
    assert Subscriber.objects.count() == 1
    known.refresh_from_db()
    assert (known.interests, known.digest_size) == ("robotics", 10)
    [message] = mailoutbox
    assert message.to == ["known@example.com"]
    assert "/manage/" in message.body
    assert "/confirm/" not in message.body


def test_it_includes_a_confirm_link_in_the_manage_email_of_a_pending_address(
    pending_subscriber, mailoutbox
):
    _signup(email=pending_subscriber.email)
    [message] = mailoutbox
    assert "/confirm/" in message.body and "/manage/" in message.body


def test_it_unsubscribes_once_and_keeps_the_first_method(subscriber_factory):
    sub = subscriber_factory()
    with time_machine.travel(SIGNUP_AT, tick=False):
        services.subscriber_unsubscribe(subscriber=sub, method=Method.ONE_CLICK)
    services.subscriber_unsubscribe(subscriber=sub, method=Method.COMPLAINT)
    sub.refresh_from_db()
    consent = ConsentRecord.objects.get(subscriber=sub)
    assert sub.status == Subscriber.Status.UNSUBSCRIBED
    assert sub.unsubscribed_at == SIGNUP_AT
    assert (consent.unsubscribed_at, consent.unsubscribe_method) == (SIGNUP_AT, "one-click")


def test_it_rejects_an_unknown_unsubscribe_method(subscriber_factory):
    with pytest.raises(ValueError):
        services.subscriber_unsubscribe(subscriber=subscriber_factory(), method="magic")


def test_it_resubscribes_with_a_fresh_consent(subscriber_factory):
    sub = subscriber_factory()
    services.subscriber_unsubscribe(subscriber=sub, method=Method.FOOTER_LINK)
    services.subscriber_resubscribe(subscriber=sub, ip="192.0.2.1")
    sub.refresh_from_db()
    consent = sub.consent  # the new one; tests/subscriptions/test_consent_history.py
    assert sub.status == Subscriber.Status.ACTIVE and sub.unsubscribed_at is None
    assert (consent.unsubscribed_at, consent.unsubscribe_method) == (None, "")
    assert consent.confirmed_ip == "192.0.2.1"


def test_it_updates_preferences_and_adds_liked_papers(subscriber_factory):
    sub = subscriber_factory(frequency="daily")
    services.subscriber_update_preferences(
        subscriber=sub,
        interests="protein folding",
        frequency="weekly",
        weekday=6,
        paused_until=date(2026, 12, 24),
        liked_papers=["2503.00001"],
    )
    sub.refresh_from_db()
    assert (sub.interests, sub.frequency, sub.weekday) == ("protein folding", "weekly", 6)
    assert sub.paused_until == date(2026, 12, 24)
    assert sub.feedback.get().origin == PaperFeedback.Origin.PREFERENCES


def test_it_records_feedback_idempotently_and_flips_the_kind(subscriber_factory):
    sub = subscriber_factory()
    first = services.feedback_record(subscriber=sub, arxiv_id="2501.01234", kind="like")
    services.feedback_record(subscriber=sub, arxiv_id="2501.01234", kind="like")
    assert PaperFeedback.objects.filter(subscriber=sub).count() == 1
    flipped = services.feedback_record(subscriber=sub, arxiv_id="2501.01234", kind="dislike")
    assert flipped.pk == first.pk
    assert PaperFeedback.objects.get(subscriber=sub).kind == "dislike"


def test_it_deletes_personal_data_but_keeps_the_send_history(subscriber_factory):
    sub = services.subscriber_signup(
        email="gone@example.com",
        ip="203.0.113.7",
        user_agent="UA",
        interests="secret topic",
        followed_authors=["Someone"],
        categories=["cs.AI"],
        liked_papers=["2501.01234"],
    )
    services.subscriber_confirm(subscriber=sub, ip="203.0.113.8")
    run = DigestRun.objects.create(edition_date=date(2026, 11, 20))
    delivery = Delivery.objects.create(run=run, subscriber=sub, status="sent")
    TrackingEvent.objects.create(
        event_id="ev1",
        event_type="delivered",
        delivery=delivery,
        recipient="gone@example.com",
        esp_event={"recipient": "gone@example.com"},
    )
    old_version = sub.token_version

    services.subscriber_delete(subscriber=sub)

    sub.refresh_from_db()
    assert sub.email == f"deleted-{sub.pk}@invalid"
    assert (sub.interests, sub.categories, sub.followed_authors) == ("", [], [])
    assert sub.deleted_at is not None and sub.status == Subscriber.Status.UNSUBSCRIBED
    assert sub.token_version == old_version + 1
    assert not PaperFeedback.objects.filter(subscriber=sub).exists()
    consent = ConsentRecord.objects.get(subscriber=sub)
    assert (consent.signup_ip, consent.signup_user_agent, consent.confirmed_ip) == (None, "", None)
    assert consent.signup_at is not None and consent.confirmed_at is not None
    assert consent.unsubscribe_method == "deleted"
    assert Delivery.objects.get(pk=delivery.pk).subscriber_id == sub.pk
    event = TrackingEvent.objects.get(event_id="ev1")
    assert (event.recipient, event.esp_event) == ("", {})


def test_it_lets_a_deleted_address_sign_up_again(subscriber_factory, mailoutbox):
    sub = subscriber_factory(email="back@example.com")
    services.subscriber_delete(subscriber=sub)
    again = _signup(email="back@example.com")
    assert again.pk != sub.pk and again.status == Subscriber.Status.PENDING
    assert "/confirm/" in mailoutbox[-1].body


def test_it_exports_everything_held_about_a_subscriber(subscriber_factory):
    sub = services.subscriber_signup(
        email="me@example.com",
        ip="203.0.113.7",
        user_agent="UA",
        interests="llm agents",
        liked_papers=["2501.01234"],
    )
    run = DigestRun.objects.create(edition_date=date(2026, 11, 20))
    Delivery.objects.create(
        run=run, subscriber=sub, status="sent", picks=[{"arxiv_id": "2511.00001", "title": "T"}]
    )
    data = services.subscriber_export(subscriber=sub)
    assert data["subscriber"]["email"] == "me@example.com"
    assert data["subscriber"]["interests"] == "llm agents"
    assert data["consent"]["signup_ip"] == "203.0.113.7"
    assert data["feedback"][0]["arxiv_id"] == "2501.01234"
    assert data["deliveries"] == [
        {
            "edition": "2026-11-20",
            "frequency": "daily",
            "status": "sent",
            "sent_at": None,
            "papers": ["2511.00001"],
        }
    ]


def test_it_revokes_old_links_by_bumping_the_token_version(subscriber_factory):
    sub = subscriber_factory()
    services.subscriber_revoke_links(subscriber=sub)
    assert sub.token_version == 2
    assert Subscriber.objects.get(pk=sub.pk).token_version == 2


def test_it_survives_a_mail_server_failure_at_signup(db, monkeypatch):
    def boom(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", boom)
    sub = _signup(email="unlucky@example.com")
    assert Subscriber.objects.filter(pk=sub.pk, status="pending").exists()
