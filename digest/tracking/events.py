"""ESP tracking events: store each once, move deliveries forward, suppress bad addresses."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from digest.editions.runs import Status, digest_run_recount_soon
from digest.models import Delivery, TrackingEvent
from subscriptions.models import Subscriber

logger = logging.getLogger(__name__)
# Webhook bodies come from the internet: PostgreSQL refuses NUL in text and jsonb, and a
# control character has no business in an id or an address.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NUL = "\x00"
DELIVERY_ID_MAX_DIGITS = 18  # fits a bigint
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
    """Store an ESP event once; None when it was seen before (ESPs retry webhooks).

    Every value is checked before it reaches the database: hostile ones (control
    characters, non-ASCII digits, overlong) are logged and left out, never a 500.
    """
    delivery = _delivery_for(metadata=metadata, message_id=_clean("message id", message_id))
    email = _clean("recipient", recipient or "", limit=254)
    if _erased(email, delivery):  # events arrive for days: an erased address stays erased
        email, esp_event = "", {}
    event, created = TrackingEvent.objects.get_or_create(
        event_id=event_id.replace(_NUL, "\ufffd")[:255],
        defaults={
            "event_type": _clean("event type", event_type, limit=32) or "unknown",
            "delivery": delivery,
            "recipient": email,
            "esp_event": _without_nul(esp_event) if isinstance(esp_event, dict | list) else {},
            "occurred_at": occurred_at,
        },
    )
    return event if created else None


def _clean(what: str, value: Any, *, limit: int = 255) -> str:
    text = value if isinstance(value, str) else ""
    if _CONTROL.search(text) or len(text) > limit:
        logger.warning("ignored a webhook %s with control characters or too long", what)
        return ""
    return text


def _erased(email: str, delivery: Delivery | None) -> bool:
    """Whether the event is about a reader who erased their data (or about an address
    no reader has: nothing to suppress, so nothing to keep)."""
    if delivery is not None:
        return delivery.subscriber.deleted_at is not None
    # An erased reader's row no longer holds the address; a live reader's does.
    return bool(email) and not Subscriber.objects.filter(email__iexact=email).exists()


def _without_nul(value: Any) -> Any:
    """``value`` with NUL characters replaced, which PostgreSQL's jsonb refuses."""
    if isinstance(value, str):
        return value.replace(_NUL, "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(str(k)): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _delivery_for(*, metadata: dict[str, Any], message_id: str) -> Delivery | None:
    delivery_id = str(metadata.get("delivery_id", ""))
    # isdigit() alone accepts "²" and "٣", which int() or PostgreSQL then refuse.
    if delivery_id.isascii() and delivery_id.isdigit():
        if len(delivery_id) > DELIVERY_ID_MAX_DIGITS:
            logger.warning("ignored a webhook delivery_id of %d digits", len(delivery_id))
            return None
        return Delivery.objects.select_related("subscriber").filter(pk=int(delivery_id)).first()
    if delivery_id:
        logger.warning("ignored a webhook delivery_id that is not a number")
    if message_id:
        return (
            Delivery.objects.select_related("subscriber")
            .filter(Q(esp_message_id=message_id) | Q(message_id=message_id))
            .first()
        )
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
