"""ESP tracking webhooks (anymail): store each event once, process it in Celery.

anymail's views (config/urls.py, /anymail/<esp>/tracking/) check the basic-auth
WEBHOOK_SECRET, and the ESP's signature where anymail verifies one, then send the
``tracking`` signal. This receiver answers fast: it de-duplicates on the event id
(ESPs retry webhooks) and queues the slow work (status, suppression, run counts).
Connected in DigestConfig.ready(), so before any request is served.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import AnymailTrackingEvent, tracking
from django.conf import settings

from digest.tracking.events import tracking_event_record


def connect() -> None:
    tracking.connect(on_tracking, dispatch_uid="digest.tracking.receiver.on_tracking")


def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    # anymail only warns when no secret is configured; we refuse (400) instead.
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        raise AnymailWebhookValidationFailure("ANYMAIL_WEBHOOK_SECRET is not configured")
    stored = tracking_event_record(
        event_id=event_key(event, esp_name),
        event_type=str(event.event_type or "unknown"),
        recipient=event.recipient if isinstance(event.recipient, str) else "",
        metadata=event.metadata if isinstance(event.metadata, dict) else {},
        message_id=str(event.message_id or ""),
        esp_event=_jsonable(event.esp_event),
        occurred_at=event.timestamp,
    )
    if stored is not None:
        from digest.tasks.send import process_tracking_event  # tasks import us

        process_tracking_event.delay_on_commit(stored.pk)


def event_key(event: AnymailTrackingEvent, esp_name: str) -> str:
    """The ESP's event id, or a hash of the payload for ESPs that send none (Postmark
    opens and deliveries): a retried webhook carries the same payload."""
    if esp_name == "Mailgun" and (mailgun_id := _mailgun_event_id(event)):
        return f"{esp_name}:{mailgun_id}"
    if event.event_id:
        return f"{esp_name}:{event.event_id}"
    payload = json.dumps(_jsonable(event.esp_event), sort_keys=True, default=str)
    digest = hashlib.sha256(f"{event.event_type}|{payload}".encode()).hexdigest()
    return f"{esp_name}:sha256:{digest}"


def _mailgun_event_id(event: AnymailTrackingEvent) -> str:
    """Mailgun's own event id (``event-data.id``), dated.

    anymail's event_id is the signature token: it names one signed POST, and nothing
    promises that a retried POST carries the same one. The event's id names the event;
    Mailgun only promises it unique within a day, hence the event's date in front.
    """
    esp = event.esp_event if isinstance(event.esp_event, dict) else {}
    data = esp.get("event-data")
    mailgun_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(mailgun_id, str) or not mailgun_id:
        return ""
    day = event.timestamp.date().isoformat() if event.timestamp else "undated"
    return f"{day}:{mailgun_id}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value, default=str))
    return {"raw": str(value)[:10000]}
