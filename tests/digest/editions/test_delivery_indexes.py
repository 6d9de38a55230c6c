"""The deliveries' message-id indexes hold the sent rows only, and the webhooks use them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q

from digest.models import Delivery

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partial indexes and plans: PostgreSQL (CI)"
)


def _definition(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        (definition,) = cursor.fetchone()
    return str(definition)


@pytest.mark.django_db
def test_planned_deliveries_without_message_ids_are_left_out_of_their_indexes():
    assert "WHERE (NOT ((message_id)::text = ''::text))" in _definition("delivery_message_id_set")
    assert "WHERE (NOT ((esp_message_id)::text = ''::text))" in _definition(
        "delivery_esp_message_id_set"
    )


@pytest.mark.django_db(transaction=False)
def test_the_webhook_lookup_by_message_id_uses_the_partial_indexes():
    lookup = Delivery.objects.filter(Q(esp_message_id="<m@x>") | Q(message_id="<m@x>"))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table: force an index
    plan = lookup.explain()
    assert "delivery_esp_message_id_set" in plan and "delivery_message_id_set" in plan
