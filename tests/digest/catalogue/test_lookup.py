from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import respx

from digest.catalogue import (
    catalogue_apply_lookup,
    catalogue_lookup_categories,
    lookup_needed,
    sources_still_fetching,
)
from digest.catalogue.lookup import papers_missing_categories
from digest.models import FetchRun, Paper
from digest.sources.arxiv_api import parse
from tests.digest.sources.helpers import ARXIV_API_URL, arxiv_api_answer, broken, real

pytestmark = pytest.mark.django_db

DAY = date(2026, 7, 1)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.DIGEST_HTTP_RETRIES = 1


@pytest.fixture
def hf_papers(paper_trend_factory):
    """Three of the day's papers as Hugging Face lists them: no categories."""
    ids = ["2606.00001", "2606.00002", "2606.00003"]
    for arxiv_id in ids:
        paper_trend_factory(paper__arxiv_id=arxiv_id, paper__categories=[], day=DAY)
    return ids


def categories() -> dict[str, list[str]]:
    return dict(Paper.objects.values_list("arxiv_id", "categories"))


@respx.mock
def test_it_stores_the_categories_of_the_papers_that_have_none(hf_papers, paper_trend_factory):
    paper_trend_factory(paper__arxiv_id="2606.00009", paper__categories=["cs.RO"], day=DAY)
    route = respx.get(ARXIV_API_URL).mock(
        return_value=httpx.Response(
            200,
            content=arxiv_api_answer(
                {"2606.00001": ["cs.CL", "cs.AI"], "2606.00002": ["cs.CV"], "2606.00003": ["cs.LG"]}
            ),
        )
    )

    run = catalogue_lookup_categories(day=DAY)

    assert route.calls.last.request.url.params["id_list"] == ",".join(hf_papers)
    assert (run.source, run.status, run.updated_count, run.new_count) == ("arxiv_api", "ok", 3, 0)
    assert categories() == {
        "2606.00001": ["cs.CL", "cs.AI"],
        "2606.00002": ["cs.CV"],
        "2606.00003": ["cs.LG"],
        "2606.00009": ["cs.RO"],
    }


@respx.mock
def test_it_fills_a_blank_abstract_and_keeps_ours(paper_trend_factory):
    paper_trend_factory(
        paper__arxiv_id="2606.00001", paper__abstract="", paper__categories=[], day=DAY
    )
    paper_trend_factory(
        paper__arxiv_id="2606.00002", paper__abstract="Ours.", paper__categories=[], day=DAY
    )
    answer = arxiv_api_answer({"2606.00001": ["cs.CR"], "2606.00002": ["cs.CR"]})
    respx.get(ARXIV_API_URL).mock(return_value=httpx.Response(200, content=answer))

    catalogue_lookup_categories(day=DAY)

    abstracts = dict(Paper.objects.values_list("arxiv_id", "abstract"))
    assert abstracts["2606.00001"].startswith("What is the funniest number")
    assert abstracts["2606.00002"] == "Ours."


@respx.mock
@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(503), "HTTP 503"),
        (httpx.Response(200, content=broken("arxiv_api_error_page.html")), "not an Atom feed"),
        (httpx.Response(200, content=broken("arxiv_api_truncated.xml")), "not well-formed"),
        (httpx.Response(200, content=broken("arxiv_api_error_entry.xml")), "refused the query"),
    ],
)
def test_when_the_api_is_down_or_answers_garbage_nothing_changes_and_the_run_fails(
    hf_papers, response, error
):
    respx.get(ARXIV_API_URL).mock(return_value=response)

    run = catalogue_lookup_categories(day=DAY)

    assert run.status == "failed" and error in run.error_text
    assert run.finished_at is not None
    assert set(map(tuple, categories().values())) == {()}
    assert lookup_needed(day=DAY)


@respx.mock
def test_the_next_lookup_retries_the_papers_a_failed_one_left_without_categories(hf_papers):
    route = respx.get(ARXIV_API_URL).mock(return_value=httpx.Response(503))
    catalogue_lookup_categories(day=DAY)
    route.mock(
        return_value=httpx.Response(
            200, content=arxiv_api_answer({i: ["cs.AI"] for i in hf_papers})
        )
    )

    # The next day's fetch: its lookup also covers yesterday's papers.
    run = catalogue_lookup_categories(day=DAY + timedelta(days=1))

    assert run.status == "ok" and run.updated_count == 3
    assert all(c == ["cs.AI"] for c in categories().values())
    assert not lookup_needed(day=DAY + timedelta(days=1))


@respx.mock
def test_unknown_ids_are_skipped_and_not_asked_again_by_the_refetch(hf_papers):
    answer = arxiv_api_answer({"2606.00001": ["cs.AI"], "2606.00002": ["cs.AI"]})
    respx.get(ARXIV_API_URL).mock(return_value=httpx.Response(200, content=answer))

    run = catalogue_lookup_categories(day=DAY)

    assert (run.status, run.updated_count, run.skipped_count) == ("partial", 2, 1)
    assert run.skipped[0]["identifier"] == "2606.00003"
    assert run.skipped[0]["reason"] == "unknown to the arXiv API"
    assert not lookup_needed(day=DAY)


@respx.mock
def test_a_paper_with_only_unknown_categories_stays_without_and_is_listed(paper_trend_factory):
    for arxiv_id in ("2104.12255", "2104.99999"):
        paper_trend_factory(paper__arxiv_id=arxiv_id, paper__categories=[], day=DAY)
    content = broken("arxiv_api_unknown_categories.xml")
    respx.get(ARXIV_API_URL).mock(return_value=httpx.Response(200, content=content))

    run = catalogue_lookup_categories(day=DAY)

    assert categories() == {"2104.12255": ["cs.CR"], "2104.99999": []}
    assert run.status == "partial"
    reasons = {s["identifier"]: s["reason"] for s in run.skipped if s["kind"] == "bad"}
    assert reasons == {"2104.99999": "no known arXiv category"}
    assert not lookup_needed(day=DAY)  # arXiv answered about it: not asked again today


def test_nothing_missing_sends_nothing_and_records_an_ok_run(paper_trend_factory):
    paper_trend_factory(paper__categories=["cs.CL"], day=DAY)

    with respx.mock:  # any request would fail the test
        run = catalogue_lookup_categories(day=DAY)

    assert (run.status, run.updated_count) == ("ok", 0)


def test_papers_of_the_last_week_are_looked_up_older_ones_not(paper_trend_factory):
    paper_trend_factory(paper__arxiv_id="2606.00001", paper__categories=[], day=DAY)
    paper_trend_factory(
        paper__arxiv_id="2606.00002", paper__categories=[], day=DAY - timedelta(days=6)
    )
    paper_trend_factory(
        paper__arxiv_id="2606.00003", paper__categories=[], day=DAY - timedelta(days=7)
    )
    paper_trend_factory(
        paper__arxiv_id="2606.00004", paper__categories=[], day=DAY + timedelta(days=1)
    )

    assert papers_missing_categories(day=DAY) == ["2606.00001", "2606.00002"]


def test_a_saved_answer_is_applied_to_the_papers_of_the_catalogue(paper_factory):
    paper_factory(arxiv_id="1111.2011", categories=[])

    run = catalogue_apply_lookup(
        day=DAY, result=parse(real("arxiv_api_search_testing_100_2026-04.xml"))
    )

    assert categories() == {"1111.2011": []}  # not in that answer
    assert run.updated_count == 0 and run.skipped_count == 100
    run = catalogue_apply_lookup(
        day=DAY, result=parse(real("arxiv_api_id_list_1111.2011v2_2016.xml"))
    )
    assert categories() == {"1111.2011": ["cond-mat.str-el", "cond-mat.stat-mech"]}
    assert (run.status, run.updated_count) == ("ok", 1)


def test_the_lookup_waits_for_sources_queued_with_it_until_their_runs_finish():
    since = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)
    sources = ["hf_api", "hf_page"]
    FetchRun.objects.create(
        source="hf_api", day=DAY, status="ok", started_at=since - timedelta(hours=1)
    )

    assert sources_still_fetching(day=DAY, since=since, sources=sources) == sources

    FetchRun.objects.create(source="hf_api", day=DAY, status="running", started_at=since)
    FetchRun.objects.create(source="hf_page", day=DAY, status="failed", started_at=since)
    assert sources_still_fetching(day=DAY, since=since, sources=sources) == ["hf_api"]

    FetchRun.objects.filter(source="hf_api", status="running").update(status="partial")
    assert sources_still_fetching(day=DAY, since=since, sources=sources) == []
