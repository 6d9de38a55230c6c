"""The whole thin path: a sample day ingested, a signup confirmed from the sent mail, the
daily job run, the digest read, the unsubscribe link used, and nothing sent after."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from digest.models import Delivery, Paper
from subscriptions.models import Subscriber
from tests.subscriptions.conftest import committed

SAMPLE_DAY = date(2026, 7, 1)
SAMPLE_FILE = Path(settings.DIGEST_SAMPLE_DIR) / "hf_daily_papers" / "2026-07-01.json"
SPECULATIVE = (
    "BlockPilot: Instance-Adaptive Policy Learning for Diffusion-based Speculative Decoding"
)
PHOTOMOSAICS = "PhotoQuilt: Training-Free Arbitrary-Resolution Photomosaics"
_LINK = re.compile(r"https?://[^\s\"'<>]+")


def _links(message: mail.EmailMessage, fragment: str) -> list[str]:
    return [url for url in _LINK.findall(message.body) if fragment in url]


def _html(message: mail.EmailMultiAlternatives) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")


def _signup(client, email: str) -> None:
    # The confirmation email's task is queued on commit (as a request's commit would).
    with committed():
        response = _post_signup(client, email)
    assert response.status_code in (200, 302)


def _post_signup(client, email: str):
    return client.post(
        reverse("subscriptions:signup"),
        {
            "email": email,
            "interests": "speculative decoding, photomosaics",
            "digest_size": "5",
            "frequency": "daily",
            "weekday": "0",
            "send_hour": "7",
            "timezone": "UTC",
        },
    )


@pytest.mark.django_db
def test_it_takes_a_reader_from_signup_to_digest_to_unsubscribe(client):
    call_command("fetch_papers", "--file", str(SAMPLE_FILE))
    assert Paper.objects.filter(arxiv_id="2606.31315").exists()

    _signup(client, "Reader@Example.COM")
    subscriber = Subscriber.objects.get()
    assert subscriber.status == Subscriber.Status.PENDING
    (confirmation,) = mail.outbox
    (confirm_link,) = _links(confirmation, "/confirm/")
    client.get(confirm_link.removeprefix(settings.SITE_URL))  # scanner-safe: a button
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING
    client.post(confirm_link.removeprefix(settings.SITE_URL))
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE

    mail.outbox.clear()
    call_command("send_digests", "--date", SAMPLE_DAY.isoformat())
    (digest,) = mail.outbox
    assert digest.to == [subscriber.email]
    for text in (" ".join(digest.body.split()), _html(digest)):  # the text is wrapped at 78
        assert SPECULATIVE in text
        assert PHOTOMOSAICS in text
    unsubscribe_links = _links(digest, "/unsubscribe/")
    assert unsubscribe_links
    assert f"<{unsubscribe_links[0]}>" in digest.extra_headers["List-Unsubscribe"]
    assert Delivery.objects.get(subscriber=subscriber).status == Delivery.Status.SENT

    path = unsubscribe_links[0].removeprefix(settings.SITE_URL)
    assert client.get(path).status_code == 200  # a confirmation page: scanners follow links
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert client.post(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED

    mail.outbox.clear()
    call_command("send_digests", "--date", SAMPLE_DAY.isoformat())
    assert mail.outbox == []
