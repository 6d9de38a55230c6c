"""Subscriber tasks: the transactional emails, sent outside the web request."""

from __future__ import annotations

import smtplib

from anymail.exceptions import AnymailAPIError
from celery import shared_task

from subscriptions import services


@shared_task(
    name="subscriptions.tasks.send_account_email",
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError, AnymailAPIError),
    retry_backoff=True,
    max_retries=3,
)
def send_account_email(kind: str, subscriber_id: int | None = None, email: str = "") -> bool:
    return services.account_email_send(kind=kind, subscriber_id=subscriber_id, email=email)
