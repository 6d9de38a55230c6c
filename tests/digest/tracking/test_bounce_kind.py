"""bounce_kind: which events anymail normalised suppress at once, which ones count."""

from __future__ import annotations

import pytest

from digest.tracking.events import HARD, SOFT, bounce_kind


def _mailgun(severity: str, reason: str, code: int) -> dict[str, object]:
    return {
        "event-data": {
            "event": "failed",
            "severity": severity,
            "reason": reason,
            "delivery-status": {"code": code, "attempt-no": 1},
        }
    }


@pytest.mark.parametrize(
    ("event_type", "esp_event", "expected"),
    [
        # Postmark: anymail keeps HardBounce and SoftBounce as "bounced", Transient deferred.
        ("bounced", {"RecordType": "Bounce", "Type": "HardBounce"}, HARD),
        ("bounced", {"RecordType": "Bounce", "Type": "SoftBounce"}, SOFT),
        ("deferred", {"RecordType": "Bounce", "Type": "Transient"}, None),
        # Mailgun: severity "temporary" arrives as "deferred" (Mailgun retries).
        ("bounced", _mailgun("permanent", "bounce", 550), HARD),
        ("bounced", _mailgun("permanent", "suppress-bounce", 605), HARD),
        ("bounced", _mailgun("permanent", "generic", 452), SOFT),
        ("bounced", _mailgun("permanent", "old", 602), SOFT),
        ("deferred", _mailgun("temporary", "old", 602), SOFT),
        ("deferred", _mailgun("temporary", "greylisted", 450), None),
        ("deferred", _mailgun("temporary", "generic", 498), None),
        # Amazon SES
        ("bounced", {"bounce": {"bounceType": "Permanent"}}, HARD),
        ("bounced", {"bounce": {"bounceType": "Transient"}}, SOFT),
        ("bounced", {"bounce": {"bounceType": "Undetermined"}}, SOFT),
        # SendGrid: "blocked" is its soft bounce.
        ("bounced", {"event": "bounce", "type": "bounce"}, HARD),
        ("bounced", {"event": "bounce", "type": "blocked"}, SOFT),
        ("deferred", {"event": "deferred", "attempt": "3"}, None),
        # Not bounces at all; an unreadable payload is a hard bounce, as anymail says.
        ("delivered", _mailgun("permanent", "bounce", 550), None),
        ("complained", {}, None),
        ("bounced", {"raw": "not json"}, HARD),
        ("bounced", [], HARD),
    ],
)
def test_it_tells_hard_from_soft_bounces(event_type, esp_event, expected):
    assert bounce_kind(event_type, esp_event) == expected
