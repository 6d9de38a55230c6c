"""Signup's case-insensitive address lookup is index-bound (PostgreSQL query plan)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from subscriptions.services import subscriber_find

# Enough readers that, without the index, the planner scans the table.
READERS = 20_000

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="query plans are PostgreSQL's (CI runs it)"
)


def _add_readers(n: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO subscriptions_subscriber (email, status, interests, categories,"
            " followed_authors, digest_size, frequency, weekday, send_hour, timezone,"
            " token_version, soft_bounce_count, created_at)"
            " SELECT 'Reader' || i || '@Example.com', 'active', '', '[]', '[]', 10, 'daily',"
            " 0, 7, 'UTC', 1, 0, now() FROM generate_series(1, %s) AS i",
            [n],
        )
        cursor.execute("ANALYZE subscriptions_subscriber")


def _lookup_plan(email: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        subscriber_find(email=email)
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {query['sql']}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_the_address_lookup_uses_the_upper_email_index():
    _add_readers(READERS)
    plan = _lookup_plan("READER12345@example.COM")
    assert "subscriber_email_upper" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.django_db
def test_without_the_index_the_same_lookup_scans_the_table():
    # The table is big enough to matter: the plan above is the index's doing.
    _add_readers(READERS)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX subscriber_email_upper")
    plan = _lookup_plan("READER12345@example.COM")
    assert "subscriber_email_upper" not in plan
    assert "Seq Scan" in plan or "subscriptions_subscriber_pkey" in plan, plan


@pytest.mark.django_db
def test_the_lookup_still_finds_the_reader_whatever_the_case():
    _add_readers(100)
    found = subscriber_find(email="reader42@EXAMPLE.com")
    assert found is not None
    assert found.email == "Reader42@Example.com"
