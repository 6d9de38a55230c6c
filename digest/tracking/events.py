"""ESP tracking events: store each once, move deliveries forward, suppress bad addresses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from digest.editions.runs import Status, digest_run_recount_soon
from digest.models import Delivery, TrackingEvent
from subscriptions.models import Subscriber

# How far along a delivery is; an event only ever moves it forward (a late "delivered"
# after an "opened" changes nothing).
_PROGRESS: dict[str, int] = {
    Status.SENT: 1,
    Status.DELIVERED: 2,
    Status.OPENED: 3,
    Status.CLICKED: 4,
    Status.BOUNCED: 5,
    Status.COMPLAINED: 6,
}
# A hard bounce suppresses at once; soft ones count up to DIGEST_SOFT_BOUNCE_LIMIT.
HARD, SOFT = "hard", "soft"
_EVENT_STATUS = {
    "delivered": Status.DELIVERED,
    "opened": Status.OPENED,
    "clicked": Status.CLICKED,
    "bounced": Status.BOUNCED,
    "complained": Status.COMPLAINED,
}
_TIMESTAMP_FIELD: dict[str, str] = {
    Status.DELIVERED: "delivered_at",
    Status.OPENED: "opened_at",
    Status.CLICKED: "clicked_at",
    Status.BOUNCED: "bounced_at",
}


def tracking_event_record(
    *,
    event_id: str,
    event_type: str,
    recipient: str,
    metadata: dict[str, Any],
    message_id: str,
    esp_event: Any,
    occurred_at: datetime | None,
) -> TrackingEvent | None:
    """Store an ESP event once; None when it was seen before (ESPs retry webhooks)."""
    event, created = TrackingEvent.objects.get_or_create(
        event_id=event_id[:255],
        defaults={
            "event_type": event_type[:32],
            "delivery": _delivery_for(metadata=metadata, message_id=message_id),
            "recipient": (recipient or "")[:254],
            "esp_event": esp_event if isinstance(esp_event, dict | list) else {},
            "occurred_at": occurred_at,
        },
    )
    return event if created else None


def _delivery_for(*, metadata: dict[str, Any], message_id: str) -> Delivery | None:
    delivery_id = str(metadata.get("delivery_id", ""))
    if delivery_id.isdigit():
        return Delivery.objects.filter(pk=int(delivery_id)).first()
    if message_id:
        return Delivery.objects.filter(
            Q(esp_message_id=message_id) | Q(message_id=message_id)
        ).first()
    return None


def tracking_event_process(*, tracking_event_id: int) -> None:
    """Apply one stored event: delivery status, suppression, run counts. Idempotent."""
    claimed = TrackingEvent.objects.filter(pk=tracking_event_id, processed_at__isnull=True).update(
        processed_at=timezone.now()
    )
    if not claimed:
        return
    event = TrackingEvent.objects.select_related("delivery__subscriber").get(pk=tracking_event_id)
    delivery = event.delivery
    bounce = bounce_kind(event.event_type, event.esp_event)
    if delivery is not None:
        status = Status.BOUNCED if bounce else _EVENT_STATUS.get(event.event_type)
        _advance(delivery, status, event.occurred_at)
    subscriber = delivery.subscriber if delivery else _subscriber_by_email(event.recipient)
    if subscriber is not None:
        _suppress_if_needed(subscriber, event.event_type, bounce)
    if delivery is not None:
        digest_run_recount_soon(run_id=delivery.run_id)


def _advance(delivery: Delivery, status: str | None, at: datetime | None) -> None:
    if status is None:
        return
    current = Delivery.objects.filter(pk=delivery.pk).values_list("status", flat=True).first()
    if _PROGRESS.get(status, 0) <= _PROGRESS.get(current or "", 0):
        return
    # The message left after all: an ESP event settles a delivery a dead worker left.
    values: dict[str, Any] = {"status": status, "needs_reconciliation": False}
    if stamp := _TIMESTAMP_FIELD.get(status):
        values[stamp] = at or timezone.now()
    Delivery.objects.filter(pk=delivery.pk, status=current).update(**values)


def _subscriber_by_email(email: str) -> Subscriber | None:
    return Subscriber.objects.filter(email__iexact=email).first() if email else None


def bounce_kind(event_type: str, esp_event: Any) -> str | None:
    """HARD, SOFT or None (not a bounce) for an event as anymail normalised it.

    "deferred" means the ESP is still retrying (Mailgun's temporary failures, Postmark's
    Transient, SendGrid's deferred, Postal's SoftFail): not a bounce, or one greylisting
    server would count several times per message. The exception is Mailgun's last word
    after 8 hours of retries ("Too old"), which may arrive as a temporary failure.
    """
    esp = esp_event if isinstance(esp_event, dict) else {}
    if event_type == "bounced":
        return SOFT if _is_soft_bounce(esp) else HARD
    if event_type == "deferred" and _mailgun_gave_up(esp):
        return SOFT
    return None


def _is_soft_bounce(esp: dict[str, Any]) -> bool:
    bounce = esp.get("bounce")
    if not isinstance(bounce, dict):
        bounce = {}
    return (
        esp.get("Type") == "SoftBounce"  # Postmark
        or _mailgun_gave_up(esp)
        or _mailgun_smtp_code(esp) // 100 == 4  # Mailgun: the server only said "try later"
        or bounce.get("bounceType") in ("Transient", "Undetermined")  # Amazon SES
        or (esp.get("event") == "bounce" and esp.get("type") == "blocked")  # SendGrid
    )


def _mailgun_data(esp: dict[str, Any]) -> dict[str, Any]:
    data = esp.get("event-data")
    return data if isinstance(data, dict) else {}


def _mailgun_gave_up(esp: dict[str, Any]) -> bool:
    # Mailgun drops a message it could not deliver within its retry window with reason
    # "old" (delivery-status 602 "Too old"): the mailbox was unreachable, not unknown.
    return _mailgun_data(esp).get("reason") == "old"


def _mailgun_smtp_code(esp: dict[str, Any]) -> int:
    status = _mailgun_data(esp).get("delivery-status")
    code = status.get("code") if isinstance(status, dict) else None
    return code if isinstance(code, int) else 0


def _suppress_if_needed(subscriber: Subscriber, event_type: str, bounce: str | None) -> None:
    from subscriptions.models import ConsentRecord
    from subscriptions.services import subscriber_unsubscribe

    method = ConsentRecord.UnsubscribeMethod
    if event_type == "complained":
        subscriber_unsubscribe(subscriber=subscriber, method=method.COMPLAINT)
    elif bounce == HARD:
        subscriber_unsubscribe(subscriber=subscriber, method=method.BOUNCE)
    elif bounce == SOFT:
        Subscriber.objects.filter(pk=subscriber.pk).update(
            soft_bounce_count=F("soft_bounce_count") + 1
        )
        subscriber.refresh_from_db(fields=["soft_bounce_count"])
        if subscriber.soft_bounce_count >= settings.DIGEST_SOFT_BOUNCE_LIMIT:
            subscriber_unsubscribe(subscriber=subscriber, method=method.BOUNCE)
