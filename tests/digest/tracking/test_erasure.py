"""After a reader deletes themselves, no column of any table holds their address.

The scenario leaves the address wherever the service copies it: an admin edit (the
admin log keeps str(subscriber)), a failed send (the SMTP 550 text quotes it, in another
case), tracking events before the deletion and one arriving after it.
"""

from __future__ import annotations

import base64
import json
from smtplib import SMTPRecipientsRefused

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test import RequestFactory

from digest import editions, sending
from digest.models import Delivery, TrackingEvent
from subscriptions import services
from subscriptions.models import ConsentRecord, Subscriber

EMAIL = "ada.lovelace@example.com"
SECRET = "hooks:s3cret"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}


def tables_holding(needle: str) -> list[str]:
    """Every "table.column" whose text contains ``needle``, in any case: all columns of
    all tables, whatever their type (json and arrays included), found by introspection."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                sql = f"SELECT 1 FROM {connection.ops.quote_name(table)} WHERE LOWER(CAST({connection.ops.quote_name(column.name)} AS TEXT)) LIKE %s LIMIT 1"
                cursor.execute(sql, [f"%{needle.lower()}%"])
                if cursor.fetchone():
                    found.append(f"{table}.{column.name}")
    return found


def _event(delivery_id: int, event_id: str, record_type: str = "Delivery") -> dict:
    return {
        "RecordType": record_type,
        "ID": event_id,
        "MessageID": event_id,
        "Metadata": {"delivery_id": str(delivery_id)},
        "Recipient": EMAIL,
        "Email": EMAIL,
        "Details": f"smtp;550 5.1.1 <{EMAIL.upper()}>: no such user",
        "DeliveredAt": "2026-11-17T08:01:00Z",
        "Type": "HardBounce",
        "TypeCode": 1,
        "BouncedAt": "2026-11-17T08:10:00Z",
    }


@pytest.fixture
def traces(subscriber_factory, papers, day, settings, monkeypatch, admin_user, client):
    """A reader whose address the service copied everywhere it does."""
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    settings.DIGEST_TRACKING_ESPS = ["postmark"]
    reader = subscriber_factory(email=EMAIL)
    ConsentRecord.objects.create(subscriber=reader, signup_user_agent="Firefox")
    # An admin edit: the admin log stores str(subscriber), the address.
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    admin.site._registry[Subscriber].log_change(request, reader, [{"changed": {"fields": []}}])

    # A failed send whose SMTP error quotes the address (in upper case).
    def refuse(self, messages):
        raise SMTPRecipientsRefused({EMAIL.upper(): (550, f"<{EMAIL.upper()}> unknown".encode())})

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    run = editions.digest_run_build(day=day)
    sending.digest_run_send(run=run, inline=True)
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and EMAIL.upper() in delivery.last_error
    # A tracking event before the deletion.
    response = client.post(
        "/anymail/postmark/tracking/",
        json.dumps(_event(delivery.pk, "before")),
        content_type="application/json",
        **AUTH,
    )
    assert response.status_code == 200
    assert set(tables_holding(EMAIL)) >= {
        "django_admin_log.object_repr",
        "digest_delivery.last_error",
        "digest_trackingevent.recipient",
        "digest_trackingevent.esp_event",
        "subscriptions_subscriber.email",
    }
    return reader, delivery


def test_a_deletion_leaves_the_address_nowhere(traces, client):
    reader, _delivery = traces
    services.subscriber_delete(subscriber=reader)
    assert tables_holding(EMAIL) == []
    assert tables_holding("Firefox") == []


def test_an_event_arriving_after_the_deletion_is_stored_without_the_address(traces, client):
    reader, delivery = traces
    services.subscriber_delete(subscriber=reader)
    for event_id, record_type in (("late", "Delivery"), ("late-bounce", "Bounce")):
        response = client.post(
            "/anymail/postmark/tracking/",
            json.dumps(_event(delivery.pk, event_id, record_type)),
            content_type="application/json",
            **AUTH,
        )
        assert response.status_code == 200
    # Matched by the address alone (no metadata), after the deletion: stored without it too.
    orphan = {**_event(0, "orphan"), "Metadata": {}}
    client.post(
        "/anymail/postmark/tracking/", json.dumps(orphan), content_type="application/json", **AUTH
    )
    assert TrackingEvent.objects.count() == 4
    assert tables_holding(EMAIL) == []


def test_the_admin_log_keeps_the_edit_without_the_address(traces):
    reader, _delivery = traces
    services.subscriber_delete(subscriber=reader)
    entry = LogEntry.objects.get()
    assert entry.object_repr == f"deleted-{reader.pk}@invalid"
