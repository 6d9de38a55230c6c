"""The tracking webhook with an ESP whose signature anymail verifies: Mailgun.

Payloads follow Mailgun's JSON webhooks (as in anymail's own tests): a ``signature``
block (HMAC-SHA256 of timestamp + token with the webhook signing key) and the event in
``event-data``, our metadata in ``user-variables``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from digest import editions, sending
from digest.models import Delivery, TrackingEvent
from digest.tasks.send import process_tracking_event
from subscriptions.models import ConsentRecord, Subscriber

URL = "/anymail/mailgun/tracking/"
SECRET = "hooks:s3cret"
SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
AT = datetime(2026, 11, 17, 8, 1, 17, 153125, tzinfo=UTC)


@pytest.fixture
def sent(subscriber_factory, papers, day, settings, mailoutbox):
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    }
    settings.DIGEST_TRACKING_ESPS = ["mailgun"]
    reader = subscriber_factory(email="reader@example.com")
    ConsentRecord.objects.create(subscriber=reader)
    run = editions.digest_run_build(day=day)
    sending.digest_run_send(run=run, inline=True)
    return Delivery.objects.get()


def _event(delivery: Delivery, event: str, event_id: str, **extra: Any) -> dict[str, Any]:
    email = delivery.subscriber.email
    data = {
        "id": event_id,
        "event": event,
        "timestamp": AT.timestamp(),
        "log-level": "info",
        "recipient": email,
        "recipient-domain": email.split("@")[1],
        "tags": ["digest"],
        "campaigns": [],
        "user-variables": {"run_id": str(delivery.run_id), "delivery_id": str(delivery.pk)},
        "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
        "envelope": {"sender": "digest@mg.example.org", "transport": "smtp", "targets": email},
        "message": {
            "headers": {
                "to": email,
                "message-id": delivery.message_id.strip("<>"),
                "from": "Paper Digest <digest@mg.example.org>",
                "subject": "Your papers for Tuesday",
            },
            "attachments": [],
            "size": 18231,
        },
        **extra,
    }
    return {"event-data": data}


def _failed(delivery: Delivery, event_id: str, *, severity: str, reason: str, code: int):
    messages = {
        550: "5.1.1 The email account that you tried to reach does not exist.",
        452: "4.2.2 The email account that you tried to reach is over quota.",
        450: "Recipient address rejected: Greylisted",
        602: "Too old",
    }
    return _event(
        delivery,
        "failed",
        event_id,
        severity=severity,
        reason=reason,
        **{"log-level": "error" if severity == "permanent" else "warn"},
        **{
            "delivery-status": {
                "attempt-no": 1,
                "code": code,
                "message": messages[code],
                "description": "",
                "session-seconds": 0.4,
            }
        },
    )


def _sign(
    payload: dict[str, Any], *, key: str = SIGNING_KEY, at: float | None = None
) -> dict[str, Any]:
    # A fresh token per POST, as Mailgun signs each request it makes, when it makes it.
    timestamp = str(int(time.time() if at is None else at))
    token = secrets.token_hex(25)
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    signature = {"timestamp": timestamp, "token": token, "signature": digest.hexdigest()}
    return {"signature": signature, **payload}


def _post(client, payload: dict[str, Any], *, auth: str = SECRET, sign: bool = True):
    headers = {}
    if auth:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    body = json.dumps(_sign(payload) if sign else payload)
    return client.post(URL, data=body, content_type="application/json", **headers)


def test_a_signed_delivery_event_updates_the_delivery_and_is_stored_once(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, _event(sent, "delivered", "hTWCTD81RtiDN-1"))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_at) == ("delivered", AT)
    stored = TrackingEvent.objects.get()
    assert stored.event_id == "Mailgun:2026-11-17:hTWCTD81RtiDN-1"
    assert (stored.event_type, stored.delivery_id, stored.recipient) == (
        "delivered",
        sent.pk,
        "reader@example.com",
    )
    assert stored.processed_at is not None


def test_it_refuses_a_bad_or_missing_signature_and_stores_nothing(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        wrong_key = client.post(
            URL,
            data=json.dumps(_sign(_event(sent, "delivered", "a"), key="not-the-key")),
            content_type="application/json",
            HTTP_AUTHORIZATION="Basic " + base64.b64encode(SECRET.encode()).decode(),
        )
        unsigned = _post(client, _event(sent, "delivered", "b"), sign=False)
        forged = _sign(_event(sent, "complained", "c"))
        forged["signature"]["token"] = secrets.token_hex(25)  # signature no longer matches
        tampered = _post(client, forged, sign=False)
    assert [r.status_code for r in (wrong_key, unsigned, tampered)] == [400, 400, 400]
    assert callbacks == []
    assert TrackingEvent.objects.count() == 0
    sent.refresh_from_db()
    sent.subscriber.refresh_from_db()
    assert (sent.status, sent.subscriber.status) == ("sent", Subscriber.Status.ACTIVE)


def test_a_correctly_signed_event_without_basic_auth_is_refused(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        missing = _post(client, _event(sent, "delivered", "a"), auth="")
        wrong = _post(client, _event(sent, "delivered", "b"), auth="hooks:guess")
    assert (missing.status_code, wrong.status_code) == (400, 400)
    assert TrackingEvent.objects.count() == 0


def test_the_webhook_only_stores_and_queues_the_processing(
    client, sent, django_capture_on_commit_callbacks
):
    bounce = _failed(sent, "x1", severity="permanent", reason="bounce", code=550)
    with mock.patch.object(process_tracking_event, "apply_async", autospec=True) as queued:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = _post(client, bounce)
        # Answered with nothing applied yet: the work waits for the commit, then Celery.
        assert response.status_code == 200
        stored = TrackingEvent.objects.get()
        assert stored.processed_at is None
        sent.refresh_from_db()
        sent.subscriber.refresh_from_db()
        assert (sent.status, sent.subscriber.status) == ("sent", Subscriber.Status.ACTIVE)
        assert len(callbacks) == 1 and queued.call_count == 0
        callbacks[0]()
    queued.assert_called_once()
    assert queued.call_args.args[0] == (stored.pk,)


def test_a_retried_event_is_stored_and_applied_once(
    client, sent, django_capture_on_commit_callbacks, settings
):
    settings.DIGEST_SOFT_BOUNCE_LIMIT = 2
    old = _failed(sent, "Wz9Z-old", severity="temporary", reason="old", code=602)
    with django_capture_on_commit_callbacks(execute=True):
        # Mailgun retries an unanswered webhook; each POST is signed anew.
        statuses = [_post(client, old).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert TrackingEvent.objects.count() == 1
    sent.subscriber.refresh_from_db()
    assert sent.subscriber.soft_bounce_count == 1
    assert sent.subscriber.status == Subscriber.Status.ACTIVE


def test_the_same_event_id_on_another_day_is_another_event(
    client, sent, django_capture_on_commit_callbacks
):
    # Mailgun only promises event ids unique within a day.
    later = _event(sent, "opened", "same-id")
    later["event-data"]["timestamp"] = AT.timestamp() + 86400
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _event(sent, "opened", "same-id"))
        _post(client, later)
    assert sorted(TrackingEvent.objects.values_list("event_id", flat=True)) == [
        "Mailgun:2026-11-17:same-id",
        "Mailgun:2026-11-18:same-id",
    ]


def test_a_hard_bounce_suppresses_the_subscriber_at_once(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _failed(sent, "hb", severity="permanent", reason="bounce", code=550))
    sent.refresh_from_db()
    sent.subscriber.refresh_from_db()
    assert (sent.status, sent.bounced_at) == ("bounced", AT)
    assert sent.subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert sent.subscriber.consent.unsubscribe_method == "bounce"
    assert sent.run.__class__.objects.get(pk=sent.run_id).bounced_count == 1


def test_a_complaint_suppresses_the_subscriber_at_once(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _event(sent, "complained", "spam-1", **{"log-level": "warn"}))
    sent.refresh_from_db()
    sent.subscriber.refresh_from_db()
    assert sent.status == "complained"
    assert sent.subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert sent.subscriber.consent.unsubscribe_method == "complaint"


def test_temporary_failures_neither_count_nor_suppress(
    client, sent, django_capture_on_commit_callbacks, settings
):
    settings.DIGEST_SOFT_BOUNCE_LIMIT = 1
    with django_capture_on_commit_callbacks(execute=True):
        for n, (reason, code) in enumerate([("greylisted", 450), ("generic", 452)] * 2):
            _post(client, _failed(sent, f"t{n}", severity="temporary", reason=reason, code=code))
    assert set(TrackingEvent.objects.values_list("event_type", flat=True)) == {"deferred"}
    assert TrackingEvent.objects.filter(processed_at__isnull=False).count() == 4
    sent.refresh_from_db()
    sent.subscriber.refresh_from_db()
    assert sent.status == "sent"  # Mailgun is still trying
    assert (sent.subscriber.soft_bounce_count, sent.subscriber.status) == (0, "active")


def test_soft_bounces_count_up_to_the_configured_limit(
    client, sent, django_capture_on_commit_callbacks, settings
):
    settings.DIGEST_SOFT_BOUNCE_LIMIT = 3
    with django_capture_on_commit_callbacks(execute=True):
        # Mailgun gave up after its retry window, as a temporary or a permanent failure.
        _post(client, _failed(sent, "s1", severity="temporary", reason="old", code=602))
        _post(client, _failed(sent, "s2", severity="permanent", reason="old", code=602))
    sent.refresh_from_db()
    sent.subscriber.refresh_from_db()
    assert sent.status == "bounced"
    assert (sent.subscriber.soft_bounce_count, sent.subscriber.status) == (2, "active")
    with django_capture_on_commit_callbacks(execute=True):
        # A permanent failure on a "try later" reply (mailbox over quota) is soft too.
        _post(client, _failed(sent, "s3", severity="permanent", reason="generic", code=452))
    sent.subscriber.refresh_from_db()
    assert (sent.subscriber.soft_bounce_count, sent.subscriber.status) == (3, "unsubscribed")
    assert sent.subscriber.consent.unsubscribe_method == "bounce"


def test_opens_and_clicks_move_the_delivery_forward(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _event(sent, "delivered", "d"))
        _post(client, _event(sent, "opened", "o", **{"client-info": {"user-agent": "Mail"}}))
        _post(client, _event(sent, "clicked", "c", url="https://arxiv.org/abs/2611.00001"))
    sent.refresh_from_db()
    assert sent.status == "clicked"
    assert sent.delivered_at and sent.opened_at and sent.clicked_at
    run = sent.run.__class__.objects.get(pk=sent.run_id)
    assert (run.delivered_count, run.opened_count, run.clicked_count) == (1, 1, 1)


def test_an_event_without_our_metadata_is_matched_by_message_id(
    client, sent, django_capture_on_commit_callbacks
):
    event = _event(sent, "delivered", "no-vars")
    del event["event-data"]["user-variables"]
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, event).status_code == 200
    assert TrackingEvent.objects.get().delivery_id == sent.pk
    sent.refresh_from_db()
    assert sent.status == "delivered"


def test_the_signing_key_is_read_from_the_environment():
    # ANYMAIL_<ESP>_... variables reach anymail's settings without the prefix.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY": "from-env",
        "ANYMAIL_WEBHOOK_SECRET": "u:p",
    }
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.ANYMAIL['MAILGUN_WEBHOOK_SIGNING_KEY'], settings.ANYMAIL['WEBHOOK_SECRET'])"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["from-env", "u:p"]
