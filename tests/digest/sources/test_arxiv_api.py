from __future__ import annotations

import httpx
import pytest
import respx

from digest.sources.arxiv_api import (
    MAX_IDS_PER_REQUEST,
    MIN_INTERVAL_SECONDS,
    ArxivApiLookup,
    Spacing,
    parse,
)
from digest.sources.base import SKIP_BAD, SKIP_FILTERED, SourceError
from digest.sources.http import HttpClient
from tests.digest.sources.helpers import ARXIV_API_URL, arxiv_api_answer, broken, real


class FakeTime:
    """A clock that only moves when someone sleeps: the spacing without real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.requests: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def api(fake_time: FakeTime, settings) -> ArxivApiLookup:
    settings.DIGEST_HTTP_RETRIES = 2
    spacing = Spacing(clock=fake_time.clock, sleep=fake_time.sleep)
    return ArxivApiLookup(spacing=spacing)


def _answer(fake_time: FakeTime, content: bytes, status: int = 200):
    def respond(request: httpx.Request) -> httpx.Response:
        fake_time.requests.append(fake_time.now)
        return httpx.Response(status, content=content)

    return respond


# --- parsing recorded answers --------------------------------------------------------


def test_it_reads_categories_primary_first_and_the_abstract_of_the_current_format():
    result = parse(real("arxiv_api_id_list_2104.12255v1_2026-04.xml"))

    (paper,) = result.papers
    assert (paper.arxiv_id, paper.categories, paper.source) == (
        "2104.12255",
        ["cs.CR"],
        "arxiv_api",
    )
    assert paper.abstract.startswith("What is the funniest number in cryptography? 0.")
    assert result.skipped == [] and result.warnings == []


def test_it_reads_the_2016_format_with_namespaces_on_each_element():
    (paper,) = parse(real("arxiv_api_id_list_1111.2011v2_2016.xml")).papers

    assert paper.arxiv_id == "1111.2011"
    assert paper.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert "\n" not in paper.abstract and paper.abstract.startswith("Theoretical description")


def test_it_reads_a_100_entry_answer():
    result = parse(real("arxiv_api_search_testing_100_2026-04.xml"))

    assert len(result.papers) == 100
    assert all(p.categories for p in result.papers)
    assert sum("cs.SE" in p.categories for p in result.papers) > 50


def test_an_unknown_id_gives_no_entry():
    result = parse(real("arxiv_api_id_list_0000.0000_not_found_2026-04.xml"))

    assert result.papers == [] and result.skipped == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("arxiv_api_truncated.xml", "not well-formed"),
        ("arxiv_api_error_page.html", "not an Atom feed"),
        ("arxiv_api_error_entry.xml", "refused the query: incorrect id format for 1234.12345v99x"),
    ],
)
def test_garbage_is_a_source_error(name, message):
    with pytest.raises(SourceError, match=message):
        parse(broken(name))


def test_unknown_categories_are_dropped_and_a_paper_with_none_left_is_skipped():
    result = parse(broken("arxiv_api_unknown_categories.xml"))

    (paper,) = result.papers
    assert paper.categories == ["cs.CR"]
    skipped = {(s.identifier, s.kind): s.reason for s in result.skipped}
    assert skipped[("2104.12255", SKIP_FILTERED)] == "not arXiv categories, dropped: D.4.6, cs.XX"
    assert skipped[("2104.99999", SKIP_BAD)] == "no known arXiv category"


# --- the lookup: requests, batches, spacing, faults ------------------------------------


@respx.mock
def test_it_asks_for_every_id_in_one_request_with_enough_max_results(api, fake_time):
    route = respx.get(ARXIV_API_URL).mock(
        side_effect=_answer(fake_time, arxiv_api_answer({"2606.00001": ["cs.CL", "cs.LG"]}))
    )

    result = api.lookup(["2606.00001", "2606.00002"])

    params = route.calls.last.request.url.params
    assert params["id_list"] == "2606.00001,2606.00002"
    assert params["max_results"] == "2"
    assert [(p.arxiv_id, p.categories) for p in result.papers] == [
        ("2606.00001", ["cs.CL", "cs.LG"])
    ]
    assert [(s.identifier, s.reason) for s in result.skipped] == [
        ("2606.00002", "unknown to the arXiv API")
    ]


@respx.mock
def test_the_recorded_unknown_id_answer_skips_that_id(api, fake_time):
    respx.get(ARXIV_API_URL).mock(
        side_effect=_answer(fake_time, real("arxiv_api_id_list_0808.05394_1707.08567_2026-04.xml"))
    )

    result = api.lookup(["0808.05394", "1707.08567"])

    assert [p.arxiv_id for p in result.papers] == ["1707.08567"]
    assert [s.identifier for s in result.skipped] == ["0808.05394"]


@respx.mock
def test_it_sends_at_most_100_ids_per_request_at_least_3_seconds_apart(api, fake_time):
    ids = [f"2606.{n:05d}" for n in range(1, 251)]

    def respond(request: httpx.Request) -> httpx.Response:
        fake_time.requests.append(fake_time.now)
        asked = request.url.params["id_list"].split(",")
        return httpx.Response(200, content=arxiv_api_answer({i: ["cs.AI"] for i in asked}))

    route = respx.get(ARXIV_API_URL).mock(side_effect=respond)

    result = api.lookup(ids)

    sizes = [len(c.request.url.params["id_list"].split(",")) for c in route.calls]
    assert sizes == [MAX_IDS_PER_REQUEST, MAX_IDS_PER_REQUEST, 50]
    assert len(result.papers) == 250
    gaps = [b - a for a, b in zip(fake_time.requests, fake_time.requests[1:], strict=False)]
    assert gaps and all(gap >= MIN_INTERVAL_SECONDS for gap in gaps)


@respx.mock
def test_retries_also_wait_at_least_3_seconds(api, fake_time):
    ok = arxiv_api_answer({"2606.00001": ["cs.CL"]})
    answers = iter([(503, b"busy"), (503, b"busy"), (200, ok)])

    def respond(request: httpx.Request) -> httpx.Response:
        fake_time.requests.append(fake_time.now)
        status, content = next(answers)
        return httpx.Response(status, content=content)

    respx.get(ARXIV_API_URL).mock(side_effect=respond)

    result = api.lookup(["2606.00001"])

    assert [p.arxiv_id for p in result.papers] == ["2606.00001"]
    gaps = [b - a for a, b in zip(fake_time.requests, fake_time.requests[1:], strict=False)]
    assert len(gaps) == 2 and all(gap >= MIN_INTERVAL_SECONDS for gap in gaps)


def test_two_lookups_in_a_row_keep_the_spacing(fake_time):
    spacing = Spacing(clock=fake_time.clock, sleep=fake_time.sleep)
    spacing.wait()
    fake_time.now += 1.0
    spacing.wait()

    assert fake_time.sleeps == [pytest.approx(MIN_INTERVAL_SECONDS - 1.0)]


@respx.mock
def test_an_api_that_is_down_is_a_source_error(api, fake_time):
    respx.get(ARXIV_API_URL).mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(SourceError, match="ConnectError"):
        api.lookup(["2606.00001"])


@respx.mock
def test_a_later_failing_request_keeps_what_the_earlier_ones_returned(api, fake_time):
    ids = [f"2606.{n:05d}" for n in range(1, 151)]
    first = arxiv_api_answer({i: ["cs.AI"] for i in ids[:100]})
    respx.get(ARXIV_API_URL).mock(
        side_effect=[httpx.Response(200, content=first), httpx.Response(200, content=b"<html>")]
    )

    result = api.lookup(ids)

    assert len(result.papers) == 100
    assert result.warnings and "50 id(s) not looked up" in result.warnings[0]


@respx.mock
def test_a_malformed_id_is_never_sent(api, fake_time):
    route = respx.get(ARXIV_API_URL).mock(
        side_effect=_answer(fake_time, arxiv_api_answer({"2606.00001": ["cs.CL"]}))
    )

    result = api.lookup(["2606.00001", "not an id,2606.00002"])

    assert route.calls.last.request.url.params["id_list"] == "2606.00001"
    assert ("not an id,2606.00002", "not an arXiv id") in [
        (s.identifier, s.reason) for s in result.skipped
    ]


def test_nothing_to_look_up_sends_nothing(fake_time):
    client = HttpClient()
    lookup = ArxivApiLookup(
        client=client, spacing=Spacing(clock=fake_time.clock, sleep=fake_time.sleep)
    )

    assert lookup.lookup([]).papers == []
    assert fake_time.sleeps == []


@respx.mock
def test_100_ids_are_one_request_answered_by_the_recorded_100_entry_feed(api, fake_time):
    content = real("arxiv_api_search_testing_100_2026-04.xml")
    ids = [p.arxiv_id for p in parse(content).papers]
    route = respx.get(ARXIV_API_URL).mock(side_effect=_answer(fake_time, content))

    result = api.lookup(ids)

    assert route.call_count == 1
    assert route.calls.last.request.url.params["max_results"] == "100"
    assert len(result.papers) == 100 and result.skipped == []
