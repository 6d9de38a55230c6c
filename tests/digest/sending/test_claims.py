"""claims.py: a delivery is claimed once, and the previous email marked sent with it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from digest import editions, sending
from digest.models import Delivery, DigestRun
from digest.sending import claims
from subscriptions.models import Subscriber


def _build(day, **kwargs):
    return editions.digest_run_build(day=day, **kwargs)


def test_a_claim_succeeds_once(subscriber_factory, papers, day):
    subscriber_factory()
    run = _build(day)
    sending.digest_run_send(run=run, inline=False)  # queued only: nothing runs in a test txn
    delivery = Delivery.objects.get()
    assert sending.delivery_claim(delivery=delivery) is True
    assert sending.delivery_claim(delivery=delivery) is False
    delivery.refresh_from_db()
    assert delivery.status == "sending"
    assert delivery.message_id == f"<digest.{run.pk}.{delivery.pk}@localhost>"
    assert delivery.attempts == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's prepared claim (CI runs it)"
)
def test_the_claim_is_a_prepared_statement_on_postgresql(
    subscriber_factory, papers, day, mailoutbox
):
    subscriber_factory.create_batch(3)
    sending.digest_run_send(run=_build(day), inline=True)
    assert len(mailoutbox) == 3
    with connection.cursor() as cursor:  # the same session that claimed
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("UPDATE digest_delivery AS d SET status" in sql for sql in prepared)


def test_the_previous_email_is_marked_sent_in_the_next_claim(subscriber_factory, papers, day):
    subscriber_factory.create_batch(2)
    run = _build(day)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    one, two = Delivery.objects.order_by("pk")
    assert sending.delivery_claim(delivery=one)
    assert sending.delivery_claim(delivery=two, mark_sent=(one, object()))
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, one.esp_message_id) == ("sent", one.message_id)
    assert one.sent_at is not None
    assert two.status == "sending"
    # A failed claim still marks the previous email sent.
    Delivery.objects.filter(pk=one.pk).update(status="sending")
    assert not sending.delivery_claim(delivery=two, mark_sent=(one, object()))
    assert Delivery.objects.get(pk=one.pk).status == "sent"


def test_the_orm_claim_matches_the_sql_claim(subscriber_factory, papers, day):
    stays, leaves = subscriber_factory.create_batch(2)
    run = _build(day)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    Subscriber.objects.filter(pk=leaves.pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    mine = Delivery.objects.get(subscriber=stays)
    gone = Delivery.objects.get(subscriber=leaves)
    now = timezone.now()
    assert claims._claim_orm(mine.pk, now, "<a@b>", None) == 1
    assert claims._claim_orm(mine.pk, now, "<a@b>", None) == 0
    mine.message_id = "<a@b>"  # as delivery_claim() sets it
    assert claims._claim_orm(gone.pk, now, "<c@d>", (mine, object())) == 0
    mine.refresh_from_db()
    assert (mine.status, mine.attempts, mine.esp_message_id) == ("sent", 1, "<a@b>")
    assert Delivery.objects.get(pk=gone.pk).status == "planned"
