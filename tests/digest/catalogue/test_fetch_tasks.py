from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
import respx
import time_machine

from digest.models import FetchRun, Paper
from digest.sources.hf_page import HfPageSource
from digest.tasks import fetch_all_sources, lookup_categories, refetch_missing_sources
from digest.tasks.fetch import LOOKUP_WAIT_TRIES
from tests.digest.sources.helpers import (
    ARXIV_API_URL,
    ARXIV_URL,
    HF_API_URL,
    HF_PAGE_URL,
    arxiv_api_answer,
    real,
)

pytestmark = pytest.mark.django_db

DAY = date(2026, 4, 27)  # the day the recorded arXiv feed announces


@pytest.fixture(autouse=True)
def _settings(settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.DIGEST_SOURCES = ["hf_api", "hf_page", "arxiv_rss"]
    settings.DIGEST_ARXIV_CATEGORIES = ["cs.AI", "cs.CL", "cs.CV", "cs.LG"]
    settings.DIGEST_HTTP_RETRIES = 2
    monkeypatch.setattr("digest.sources.http.sleep", lambda seconds: None)


def answer_every_id(request: httpx.Request) -> httpx.Response:
    asked = request.url.params["id_list"].split(",")
    return httpx.Response(200, content=arxiv_api_answer({i: ["cs.CL", "cs.AI"] for i in asked}))


def serve_all(*, page_status: int = 503, api_status: int = 200) -> dict[str, respx.Route]:
    api = (
        respx.get(ARXIV_API_URL).mock(side_effect=answer_every_id)
        if api_status == 200
        else respx.get(ARXIV_API_URL).mock(return_value=httpx.Response(api_status))
    )
    return {
        "arxiv_api": api,
        "hf_api": respx.get(HF_API_URL).mock(
            return_value=httpx.Response(200, content=real("2026-07-01.json"))
        ),
        "hf_page": respx.get(f"{HF_PAGE_URL}{DAY}").mock(return_value=httpx.Response(page_status)),
        "arxiv_rss": respx.get(ARXIV_URL).mock(
            return_value=httpx.Response(200, content=real("cs.AI.rss.xml"))
        ),
    }


def latest_status() -> dict[str, str]:
    return {run.source: run.status for run in FetchRun.objects.order_by("pk")}


@respx.mock
def test_it_stores_the_other_sources_when_one_fails():
    routes = serve_all(page_status=503)

    queued = fetch_all_sources.delay(DAY.isoformat()).get()

    assert queued == ["hf_api", "hf_page", "arxiv_rss"]
    assert latest_status() == {
        "hf_api": "ok",
        "hf_page": "failed",
        "arxiv_rss": "ok",
        "arxiv_api": "ok",
    }
    assert routes["hf_page"].call_count == 3  # retried, then gave up
    assert "HTTP 503" in FetchRun.objects.get(source="hf_page").error_text
    assert Paper.objects.count() == 23 + 3


@respx.mock
def test_it_stores_the_other_sources_when_one_crashes(monkeypatch):
    serve_all(page_status=200)

    def crash(self, content, *, day=None):
        raise KeyError("surprise")

    monkeypatch.setattr(HfPageSource, "parse", crash)

    fetch_all_sources.delay(DAY.isoformat())

    assert latest_status() == {
        "hf_api": "ok",
        "hf_page": "failed",
        "arxiv_rss": "ok",
        "arxiv_api": "ok",
    }
    assert Paper.objects.count() == 26


@respx.mock
@time_machine.travel("2026-04-27 06:30:00+00:00", tick=False)
def test_it_fetches_today_in_utc_by_default():
    routes = serve_all()

    fetch_all_sources.delay()

    assert routes["hf_api"].calls.last.request.url.params["date"] == "2026-04-27"
    assert set(FetchRun.objects.values_list("day", flat=True)) == {DAY}


@respx.mock
def test_it_fetches_again_only_the_sources_that_failed_or_found_nothing(settings):
    serve_all(page_status=503)
    fetch_all_sources.delay(DAY.isoformat())
    # arXiv's feed was empty at first (e.g. before the announcement): refetch it too.
    FetchRun.objects.filter(source="arxiv_rss").update(new_count=0, updated_count=0)

    queued = refetch_missing_sources.delay(DAY.isoformat()).get()

    assert queued == ["hf_page", "arxiv_rss"]
    assert FetchRun.objects.filter(source="hf_api").count() == 1
    assert FetchRun.objects.filter(source="hf_page").count() == 2
    assert FetchRun.objects.filter(source="arxiv_rss").count() == 2


@respx.mock
def test_it_refetches_a_source_that_never_ran_today():
    serve_all(page_status=503)

    queued = refetch_missing_sources.delay(DAY.isoformat()).get()

    assert queued == ["hf_api", "hf_page", "arxiv_rss"]


@respx.mock
def test_after_the_sources_it_looks_up_the_categories_of_the_hf_papers():
    routes = serve_all()

    fetch_all_sources.delay(DAY.isoformat())

    run = FetchRun.objects.get(source="arxiv_api")
    assert run.started_at > max(
        FetchRun.objects.exclude(pk=run.pk).values_list("started_at", flat=True)
    )
    asked = routes["arxiv_api"].calls.last.request.url.params["id_list"].split(",")
    assert len(asked) == 23  # the HF papers; the 3 arXiv feed papers came with categories
    assert run.updated_count == 23
    assert not Paper.objects.filter(categories=[]).exists()


@respx.mock
def test_when_the_api_is_down_the_papers_stay_without_categories_and_the_refetch_retries():
    routes = serve_all(api_status=503)
    fetch_all_sources.delay(DAY.isoformat())
    assert latest_status()["arxiv_api"] == "failed"
    assert Paper.objects.filter(categories=[]).count() == 23

    routes["arxiv_api"].mock(side_effect=answer_every_id)
    refetch_missing_sources.delay(DAY.isoformat())

    assert latest_status()["arxiv_api"] == "ok"
    assert not Paper.objects.filter(categories=[]).exists()


@respx.mock
def test_the_refetch_does_not_look_up_again_when_nothing_is_missing():
    serve_all()
    fetch_all_sources.delay(DAY.isoformat())
    FetchRun.objects.filter(source="hf_page").update(status="ok", updated_count=20)

    assert refetch_missing_sources.delay(DAY.isoformat()).get() == []

    assert FetchRun.objects.filter(source="arxiv_api").count() == 1


class Waited(Exception):
    pass


@pytest.fixture
def worker_request(monkeypatch):
    """Run lookup_categories as a worker would (not eagerly), its retry() recorded."""
    retries = []

    def retry(countdown):
        retries.append(countdown)
        raise Waited

    monkeypatch.setattr(lookup_categories, "retry", retry)

    def call(*args, retries_so_far: int = 0):
        lookup_categories.push_request(retries=retries_so_far, is_eager=False)
        try:
            return lookup_categories(*args)
        finally:
            lookup_categories.pop_request()

    call.retries = retries
    return call


def test_the_lookup_waits_for_a_source_queued_with_it_that_is_still_fetching(worker_request):
    since = datetime.now(UTC)
    FetchRun.objects.create(source="hf_api", day=DAY)  # running

    with pytest.raises(Waited):
        worker_request(DAY.isoformat(), ["hf_api"], since.isoformat())

    assert worker_request.retries == [30]
    assert not FetchRun.objects.filter(source="arxiv_api").exists()


def test_the_lookup_runs_once_the_sources_queued_with_it_have_finished(worker_request):
    since = datetime.now(UTC)
    FetchRun.objects.create(source="hf_api", day=DAY, status="failed")

    run_id = worker_request(DAY.isoformat(), ["hf_api"], since.isoformat())

    assert FetchRun.objects.get(pk=run_id).source == "arxiv_api"


def test_the_lookup_stops_waiting_after_its_last_try(worker_request):
    since = datetime.now(UTC)

    run_id = worker_request(
        DAY.isoformat(), ["hf_api"], since.isoformat(), retries_so_far=LOOKUP_WAIT_TRIES
    )

    assert FetchRun.objects.get(pk=run_id).source == "arxiv_api"
    assert worker_request.retries == []
