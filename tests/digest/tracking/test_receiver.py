from __future__ import annotations

import base64
import json

import pytest

from digest import editions, sending
from digest.models import Delivery, TrackingEvent
from subscriptions.models import ConsentRecord, Subscriber

URL = "/anymail/postmark/tracking/"
SECRET = "hooks:s3cret"


@pytest.fixture
def sent(subscriber_factory, papers, day, settings, mailoutbox):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    settings.DIGEST_TRACKING_ESPS = ["postmark"]
    reader = subscriber_factory()
    ConsentRecord.objects.create(subscriber=reader)
    run = editions.digest_run_build(day=day)
    sending.digest_run_send(run=run, inline=True)
    return Delivery.objects.get()


def _post(client, payload, auth=SECRET):
    headers = {}
    if auth:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **headers)


def _event(delivery, record_type, **extra):
    base = {
        "RecordType": record_type,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"run_id": str(delivery.run_id), "delivery_id": str(delivery.pk)},
        "Tag": "digest",
        "MessageStream": "outbound",
        "Recipient": delivery.subscriber.email,
        "Email": delivery.subscriber.email,
    }
    return {**base, **extra}


def _bounce(delivery, kind, event_id):
    return _event(
        delivery,
        "Bounce",
        ID=event_id,
        Type=kind,
        TypeCode=1,
        Description="The server was unable to deliver your message",
        Details="smtp;550 5.1.1 The email account does not exist",
        BouncedAt="2026-11-17T08:10:00Z",
        Inactive=kind == "HardBounce",
    )


def test_it_refuses_an_event_without_basic_auth(client, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client, _event(sent, "Delivery", DeliveredAt="2026-11-17T08:01:00Z"), auth=""
        )
        wrong = _post(
            client, _event(sent, "Delivery", DeliveredAt="2026-11-17T08:01:00Z"), auth="a:b"
        )
    assert (response.status_code, wrong.status_code) == (400, 400)
    assert TrackingEvent.objects.count() == 0
    sent.refresh_from_db()
    assert sent.status == "sent"


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
def test_it_refuses_every_event_when_no_secret_is_configured(client, sent, settings):
    # anymail warns that such a webhook would be open; ours refuses everything instead.
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if k != "WEBHOOK_SECRET"}
    response = _post(client, _event(sent, "Delivery", DeliveredAt="2026-11-17T08:01:00Z"), auth="")
    assert response.status_code == 400
    assert TrackingEvent.objects.count() == 0


def test_delivery_open_and_click_move_the_delivery_forward(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            _post(client, _event(sent, "Delivery", DeliveredAt="2026-11-17T08:01:00Z")).status_code
            == 200
        )
        _post(client, _event(sent, "Open", FirstOpen=True, ReceivedAt="2026-11-17T09:00:00Z"))
        _post(
            client,
            _event(
                sent,
                "Click",
                OriginalLink="https://arxiv.org/abs/1",
                ReceivedAt="2026-11-17T09:01:00Z",
            ),
        )
        # A late delivery event does not move it back.
        _post(client, _event(sent, "Delivery", DeliveredAt="2026-11-17T08:02:00Z"))
    sent.refresh_from_db()
    assert sent.status == "clicked"
    assert sent.delivered_at and sent.opened_at and sent.clicked_at
    run = sent.run
    run.refresh_from_db()
    assert (run.delivered_count, run.opened_count, run.clicked_count) == (1, 1, 1)


def test_duplicate_events_are_stored_and_applied_once(
    client, sent, django_capture_on_commit_callbacks, settings
):
    settings.DIGEST_SOFT_BOUNCE_LIMIT = 2
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):  # Postmark retries the same event
            assert _post(client, _bounce(sent, "SoftBounce", 111)).status_code == 200
    assert TrackingEvent.objects.count() == 1
    sent.subscriber.refresh_from_db()
    assert sent.subscriber.soft_bounce_count == 1
    assert sent.subscriber.status == Subscriber.Status.ACTIVE


def test_a_hard_bounce_suppresses_the_subscriber_at_once(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _bounce(sent, "HardBounce", 222))
    sent.refresh_from_db()
    sent.subscriber.refresh_from_db()
    assert sent.status == "bounced"
    assert sent.subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert sent.subscriber.consent.unsubscribe_method == "bounce"
    assert sent.run.__class__.objects.get(pk=sent.run_id).bounced_count == 1


def test_a_complaint_suppresses_the_subscriber_at_once(
    client, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(
            client,
            _event(
                sent,
                "SpamComplaint",
                ID=333,
                Type="SpamComplaint",
                BouncedAt="2026-11-17T10:00:00Z",
            ),
        )
    sent.refresh_from_db()
    sent.subscriber.refresh_from_db()
    assert sent.status == "complained"
    assert sent.subscriber.consent.unsubscribe_method == "complaint"
    assert sent.subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_soft_bounces_suppress_at_the_configured_limit(
    client, sent, django_capture_on_commit_callbacks, settings
):
    settings.DIGEST_SOFT_BOUNCE_LIMIT = 3
    with django_capture_on_commit_callbacks(execute=True):
        for event_id in (1, 2):
            _post(client, _bounce(sent, "SoftBounce", event_id))
    sent.subscriber.refresh_from_db()
    assert (sent.subscriber.soft_bounce_count, sent.subscriber.status) == (2, "active")
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _bounce(sent, "SoftBounce", 3))
    sent.subscriber.refresh_from_db()
    assert (sent.subscriber.soft_bounce_count, sent.subscriber.status) == (3, "unsubscribed")


def test_a_suppressed_subscriber_is_not_sent_the_next_edition(
    client, sent, django_capture_on_commit_callbacks, paper_trend_factory, day, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _bounce(sent, "HardBounce", 444))
    paper_trend_factory(day=day.replace(day=18), paper__title="Another diffusion paper")
    before = len(mailoutbox)
    run = editions.digest_run_build(day=day.replace(day=18))
    assert run is None  # nobody due: the only subscriber is suppressed
    assert len(mailoutbox) == before


def test_an_event_settles_a_delivery_left_for_reconciliation(
    client, sent, django_capture_on_commit_callbacks
):
    Delivery.objects.filter(pk=sent.pk).update(status="failed", needs_reconciliation=True)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _event(sent, "Delivery", DeliveredAt="2026-11-17T08:01:00Z"))
    sent.refresh_from_db()
    assert (sent.status, sent.needs_reconciliation) == ("delivered", False)


def test_a_transient_bounce_neither_counts_nor_suppresses(
    client, sent, django_capture_on_commit_callbacks, settings
):
    # anymail turns Postmark's Transient into "deferred": Postmark is still retrying.
    settings.DIGEST_SOFT_BOUNCE_LIMIT = 1
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, _bounce(sent, "Transient", 555)).status_code == 200
    assert TrackingEvent.objects.get().event_type == "deferred"
    sent.refresh_from_db()
    sent.subscriber.refresh_from_db()
    assert sent.status == "sent"
    assert (sent.subscriber.soft_bounce_count, sent.subscriber.status) == (0, "active")
