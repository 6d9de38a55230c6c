"""The morning refetch of yesterday: Hugging Face upvotes keep growing after the day."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest
import respx
import time_machine
from django.conf import settings as django_settings

from config.celery_app import app
from digest.models import FetchRun, Paper, PaperTrend
from digest.tasks import fetch_source, refetch_previous_day
from tests.digest.sources.helpers import HF_API_URL, HF_PAGE_URL, real

pytestmark = pytest.mark.django_db

YESTERDAY = date(2026, 7, 29)
MORNING = "2026-07-30 06:30:00+00:00"


@pytest.fixture(autouse=True)
def _settings(settings, sleeps):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.DIGEST_HTTP_RETRIES = 0


def _later(content: bytes, *, extra_upvotes: int) -> bytes:
    """The recorded day as HF serves it a day later: the same list, more upvotes."""
    items = json.loads(content)
    for item in items:
        item["paper"]["upvotes"] += extra_upvotes
    return json.dumps(items).encode()


def _trend_upvotes(day: date) -> dict[str, int]:
    trends = PaperTrend.objects.filter(day=day, source="hf_api")
    return dict(trends.values_list("paper__arxiv_id", "upvotes"))


@respx.mock
@time_machine.travel(MORNING, tick=False)
def test_it_stores_yesterdays_final_upvotes(settings):
    settings.DIGEST_SOURCES = ["hf_api"]
    recorded = real("2026-07-29.json")
    api = respx.get(HF_API_URL).mock(
        side_effect=[
            httpx.Response(200, content=recorded),  # yesterday's own fetch
            httpx.Response(200, content=_later(recorded, extra_upvotes=40)),  # this morning
        ]
    )
    fetch_source.delay("hf_api", YESTERDAY.isoformat())
    first = _trend_upvotes(YESTERDAY)

    queued = refetch_previous_day.delay().get()

    assert queued == ["hf_api"]
    assert [call.request.url.params["date"] for call in api.calls] == ["2026-07-29"] * 2
    assert len(first) == 20
    assert _trend_upvotes(YESTERDAY) == {arxiv_id: n + 40 for arxiv_id, n in first.items()}
    assert PaperTrend.objects.count() == 20  # refreshed in place, no second row per paper
    top = max(first, key=first.__getitem__)
    assert Paper.objects.get(arxiv_id=top).upvotes == first[top] + 40
    refetch = FetchRun.objects.filter(day=YESTERDAY).latest("pk")
    assert (refetch.status, refetch.new_count, refetch.updated_count) == ("ok", 0, 20)
    assert not FetchRun.objects.filter(day=date(2026, 7, 30)).exists()


@respx.mock
def test_it_refetches_only_the_sources_that_keep_past_days(settings):
    # arXiv's feed only holds today's announcement: no route for it, so asking would fail.
    settings.DIGEST_SOURCES = ["arxiv_rss", "hf_page", "hf_api"]
    api = respx.get(HF_API_URL).mock(return_value=httpx.Response(200, content=b"[]"))
    page = respx.get(f"{HF_PAGE_URL}2026-07-29").mock(
        return_value=httpx.Response(200, content=real("huggingface_papers_2024-08.html"))
    )

    queued = refetch_previous_day.delay("2026-07-30").get()

    assert queued == ["hf_page", "hf_api"]
    assert (api.call_count, page.call_count) == (1, 1)
    runs = FetchRun.objects.values_list("source", "day")
    assert sorted(runs) == [("hf_api", YESTERDAY), ("hf_page", YESTERDAY)]


def test_beat_runs_it_with_the_morning_fetch():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    entry = schedule["refetch-previous-day"]
    assert entry["task"] == "digest.tasks.refetch_previous_day"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == schedule["fetch-papers"]["schedule"]
