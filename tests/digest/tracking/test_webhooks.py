"""The webhook URLs: only the configured ESP's, hostile bodies a 400, hostile values ignored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import pytest

from digest import editions, sending
from digest.models import Delivery, TrackingEvent
from digest.tracking.webhooks import configured_esps
from subscriptions.models import ConsentRecord

SECRET = "hooks:s3cret"
SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK = "/anymail/postmark/tracking/"
MAILGUN = "/anymail/mailgun/tracking/"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}


@pytest.fixture
def sent(subscriber_factory, papers, day, settings, mailoutbox):
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    }
    settings.DIGEST_TRACKING_ESPS = ["postmark", "mailgun"]
    reader = subscriber_factory(email="reader@example.com")
    ConsentRecord.objects.create(subscriber=reader)
    run = editions.digest_run_build(day=day)
    sending.digest_run_send(run=run, inline=True)
    return Delivery.objects.get()


def _postmark(delivery, **extra):
    return {
        "RecordType": "Delivery",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"delivery_id": str(delivery.pk)},
        "Recipient": delivery.subscriber.email,
        "DeliveredAt": "2026-11-17T08:01:00Z",
        **extra,
    }


def _post(client, url, body, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **AUTH, **headers)


def _mailgun(delivery, *, signed_at: float) -> dict:
    token = secrets.token_hex(25)
    stamp = str(int(signed_at))
    digest = hmac.new(SIGNING_KEY.encode(), f"{stamp}{token}".encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": digest.hexdigest()},
        "event-data": {
            "id": secrets.token_hex(8),
            "event": "delivered",
            "timestamp": signed_at,
            "recipient": delivery.subscriber.email,
            "user-variables": {"delivery_id": str(delivery.pk)},
            "message": {"headers": {"message-id": delivery.message_id.strip("<>")}},
        },
    }


def test_only_configured_esps_are_routed(client, sent, settings):
    settings.DIGEST_TRACKING_ESPS = ["postmark"]
    assert _post(client, "/anymail/amazon_ses/tracking/", {}).status_code == 404
    assert _post(client, "/anymail/mandrill/", {}).status_code == 404
    assert _post(client, MAILGUN, {}).status_code == 404
    assert _post(client, "/anymail/postmark/inbound/", {}).status_code == 404  # never routed
    assert _post(client, POSTMARK, _postmark(sent)).status_code == 200


def test_the_esp_of_an_anymail_backend_is_configured_by_default(settings):
    settings.DIGEST_TRACKING_ESPS = []
    settings.EMAIL_BACKEND = "anymail.backends.amazon_ses.EmailBackend"
    assert configured_esps() == {"amazon_ses"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert configured_esps() == set()


def test_an_esp_listed_but_missing_its_keys_is_a_404_not_a_500(client, sent, settings):
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if "MAILGUN" not in k}
    assert _post(client, MAILGUN, _mailgun(sent, signed_at=time.time())).status_code == 404


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"a string"', "null", b"\xff\xfe"])
def test_a_malformed_body_is_a_400(client, sent, body):
    assert _post(client, POSTMARK, body).status_code == 400
    assert _post(client, MAILGUN, body).status_code == 400
    assert TrackingEvent.objects.count() == 0


@pytest.mark.parametrize("delivery_id", ["²", "٣", "1" * 40, "12\x00", "-1"])
def test_a_hostile_delivery_id_is_ignored(
    client, sent, delivery_id, django_capture_on_commit_callbacks
):
    payload = _postmark(sent, Metadata={"delivery_id": delivery_id}, MessageID="unknown")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, POSTMARK, payload)
    assert response.status_code == 200
    assert TrackingEvent.objects.get().delivery_id is None


def test_nul_bytes_in_the_recipient_and_metadata_are_stored_safely(
    client, sent, django_capture_on_commit_callbacks
):
    payload = _postmark(
        sent,
        Recipient="reader@example.com\x00",
        Metadata={"delivery_id": str(sent.pk), "note\x00": "x\x00y"},
        Tag="a\x00b",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, POSTMARK, payload)
    assert response.status_code == 200
    event = TrackingEvent.objects.get()
    assert (event.delivery_id, event.recipient) == (sent.pk, "")
    assert "\x00" not in json.dumps(event.esp_event)
    sent.refresh_from_db()
    assert sent.status == "delivered"


def test_a_fresh_mailgun_signature_is_accepted(client, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, MAILGUN, _mailgun(sent, signed_at=time.time() - 60))
    assert response.status_code == 200
    assert TrackingEvent.objects.count() == 1


@pytest.mark.parametrize("age", [16 * 60, 365 * 24 * 3600, -16 * 60])
def test_a_stale_mailgun_signature_is_refused(client, sent, age):
    response = _post(client, MAILGUN, _mailgun(sent, signed_at=time.time() - age))
    assert response.status_code == 400
    assert TrackingEvent.objects.count() == 0


def test_a_stale_legacy_form_mailgun_signature_is_refused(client, sent):
    signature = _mailgun(sent, signed_at=time.time() - 3600)["signature"]
    form = {**signature, "event": "delivered", "recipient": "reader@example.com"}
    response = client.post(MAILGUN, data=form, **AUTH)
    assert response.status_code == 400
