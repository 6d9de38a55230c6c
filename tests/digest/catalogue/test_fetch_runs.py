from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from digest.catalogue import sources_to_refetch
from digest.models import FetchRun

pytestmark = pytest.mark.django_db

DAY = date(2026, 4, 27)
OK, FAILED = FetchRun.Status.OK, FetchRun.Status.FAILED


@pytest.fixture(autouse=True)
def _sources(settings):
    settings.DIGEST_SOURCES = ["hf_api", "hf_page", "arxiv_rss"]


def run(source: str, status: str, *, found: int = 5, minutes_ago: int = 0, day: date = DAY):
    return FetchRun.objects.create(
        source=source,
        day=day,
        status=status,
        new_count=found,
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_it_refetches_every_enabled_source_that_never_ran():
    run("hf_api", OK, day=DAY - timedelta(days=1))  # another day does not count

    assert sources_to_refetch(day=DAY) == ["hf_api", "hf_page", "arxiv_rss"]


def test_it_refetches_failed_and_empty_runs_only():
    run("hf_api", OK)
    run("hf_page", FAILED, found=0)
    run("arxiv_rss", OK, found=0)

    assert sources_to_refetch(day=DAY) == ["hf_page", "arxiv_rss"]


def test_only_the_latest_run_of_a_source_counts():
    run("hf_api", FAILED, found=0, minutes_ago=60)
    run("hf_api", OK, minutes_ago=1)
    run("hf_page", OK, minutes_ago=60)
    run("hf_page", FAILED, found=0, minutes_ago=1)
    run("arxiv_rss", OK)

    assert sources_to_refetch(day=DAY) == ["hf_page"]


def test_it_asks_only_the_enabled_sources(settings):
    settings.DIGEST_SOURCES = ["arxiv_rss"]

    assert sources_to_refetch(day=DAY) == ["arxiv_rss"]


def test_it_refetches_a_partial_run_like_a_failed_one():
    # A truncated arXiv feed ends as a partial run that still found papers.
    run("hf_api", OK)
    run("hf_page", OK)
    run("arxiv_rss", FetchRun.Status.PARTIAL, found=40)

    assert sources_to_refetch(day=DAY) == ["arxiv_rss"]
