from __future__ import annotations

from datetime import date

import httpx
import pytest
import respx

from digest.catalogue import catalogue_fetch, catalogue_ingest
from digest.catalogue.selectors import latest_trending_day, paper_list_for_day, paper_list_for_week
from digest.models import FetchRun, Paper, PaperTrend
from digest.sources.base import FetchResult, PaperData
from digest.sources.hf_api import HfApiSource
from digest.sources.hf_page import HfPageSource
from tests.digest.sources.helpers import ARXIV_URL, HF_API_URL, HF_PAGE_URL, broken, real

pytestmark = pytest.mark.django_db

JULY_1 = date(2026, 7, 1)
ARXIV_DAY = date(2026, 4, 27)


@pytest.fixture(autouse=True)
def _fast_and_predictable(settings, monkeypatch):
    settings.DIGEST_SOURCES = ["hf_api", "hf_page", "arxiv_rss"]
    settings.DIGEST_ARXIV_CATEGORIES = ["cs.AI", "cs.CL", "cs.CV", "cs.LG"]
    settings.DIGEST_ARXIV_INCLUDE_REPLACEMENTS = False
    settings.DIGEST_HTTP_RETRIES = 3
    monkeypatch.setattr("digest.sources.http.sleep", lambda seconds: None)


def serve_hf_api(content: bytes, day: date = JULY_1) -> respx.Route:
    return respx.get(HF_API_URL, params={"date": day.isoformat()}).mock(
        return_value=httpx.Response(200, content=content)
    )


def record(arxiv_id: str, source: str, **fields) -> PaperData:
    return PaperData(
        arxiv_id=arxiv_id, title=fields.pop("title", f"Paper {arxiv_id}"), source=source, **fields
    )


# --- a normal fetch -----------------------------------------------------------------


@respx.mock
def test_it_stores_a_real_day_as_papers_and_trends():
    serve_hf_api(real("2026-07-01.json"))

    run = catalogue_fetch(source="hf_api", day=JULY_1)

    assert (run.status, run.new_count, run.updated_count, run.skipped_count) == ("ok", 23, 0, 0)
    assert run.finished_at is not None and run.error_text == ""
    orca = Paper.objects.get(arxiv_id="2606.30534")
    assert orca.title == "Orca: The World is in Your Mind"
    assert orca.upvotes == 162 and orca.num_comments == 5
    assert orca.authors[0] == "Yihao Wang"
    assert orca.sources == ["hf_api"]
    assert orca.ai_keywords[0] == "world foundation model"
    blockpilot = Paper.objects.get(arxiv_id="2606.31315")
    assert (blockpilot.github_repo, blockpilot.github_stars) == (
        "https://github.com/AMAP-ML/BlockPilot",
        20,
    )
    trend = PaperTrend.objects.get(paper=orca, day=JULY_1, source="hf_api")
    assert (trend.rank, trend.upvotes) == (1, 162)
    assert PaperTrend.objects.count() == 23


@respx.mock
def test_it_says_updated_and_makes_no_duplicates_when_a_day_is_fetched_again():
    serve_hf_api(real("2026-07-01.json"))
    catalogue_fetch(source="hf_api", day=JULY_1)

    again = catalogue_fetch(source="hf_api", day=JULY_1)

    assert (again.status, again.new_count, again.updated_count) == ("ok", 0, 23)
    assert Paper.objects.count() == 23
    assert PaperTrend.objects.count() == 23
    assert FetchRun.objects.count() == 2  # one row per attempt, as history


# --- bad input: each case is stored as far as it can be, and the run says what happened --


@respx.mock
def test_it_records_malformed_json_as_a_failed_run():
    serve_hf_api(broken("hf_api_malformed.json"), day=date(2024, 3, 12))

    run = catalogue_fetch(source="hf_api", day=date(2024, 3, 12))

    assert run.status == FetchRun.Status.FAILED
    assert "malformed JSON" in run.error_text
    assert run.error_count == 1
    assert Paper.objects.count() == 0


@respx.mock
def test_it_stores_the_complete_cards_of_truncated_html():
    respx.get(f"{HF_PAGE_URL}2024-08-01").mock(
        return_value=httpx.Response(200, content=broken("hf_page_truncated.html"))
    )

    run = catalogue_fetch(source="hf_page", day=date(2024, 8, 1))

    assert run.status == FetchRun.Status.PARTIAL
    assert run.new_count == 5 and run.skipped_count == 1
    assert run.skipped == [
        {"reason": "card without a title link", "identifier": "card 6", "kind": "bad"}
    ]
    assert "used the server-rendered cards" in run.error_text
    assert Paper.objects.get(arxiv_id="2407.21783").upvotes == 94


@respx.mock
def test_it_records_html_cut_inside_the_island_as_failed():
    respx.get(f"{HF_PAGE_URL}2024-08-01").mock(
        return_value=httpx.Response(200, content=broken("hf_page_truncated_in_props.html"))
    )

    run = catalogue_fetch(source="hf_page", day=date(2024, 8, 1))

    assert run.status == FetchRun.Status.FAILED
    assert "no papers on the page" in run.error_text
    assert Paper.objects.count() == 0


@respx.mock
def test_it_stores_the_good_items_of_a_feed_with_bad_ones():
    respx.get(ARXIV_URL).mock(
        return_value=httpx.Response(200, content=broken("arxiv_bad_items.rss.xml"))
    )

    run = catalogue_fetch(source="arxiv_rss", day=ARXIV_DAY)

    assert run.status == FetchRun.Status.PARTIAL
    assert run.new_count == 3 and run.skipped_count == 5
    reasons = {s["reason"] for s in run.skipped}
    assert "no arXiv id in id/guid/link" in reasons
    assert "replace (DIGEST_ARXIV_INCLUDE_REPLACEMENTS is off)" in reasons
    assert set(Paper.objects.values_list("arxiv_id", flat=True)) == {
        "2604.21935",
        "2604.21936",
        "2604.21937",
    }
    assert Paper.objects.get(arxiv_id="2604.21936").categories == ["cs.AI", "cs.CV", "cs.MA"]


@respx.mock
def test_it_does_not_call_a_feed_partial_for_replacements_left_out_by_setting():
    respx.get(ARXIV_URL).mock(return_value=httpx.Response(200, content=real("cs.AI.rss.xml")))
    run = catalogue_fetch(source="arxiv_rss", day=ARXIV_DAY)

    assert run.status == FetchRun.Status.OK


@respx.mock
def test_it_stores_items_with_missing_or_null_fields_and_skips_unusable_ones():
    serve_hf_api(broken("hf_api_bad_items.json"), day=date(2024, 3, 12))

    run = catalogue_fetch(source="hf_api", day=date(2024, 3, 12))

    assert run.status == FetchRun.Status.PARTIAL
    assert (run.new_count, run.skipped_count) == (3, 5)
    assert {s["identifier"]: s["reason"] for s in run.skipped} == {
        "item 2": "no 'paper' object",
        "2403.06738": "missing title",
        "2403.06634": "duplicate id in response",
        "not-an-arxiv-id": "not an arXiv id: 'not-an-arxiv-id'",
        "item 8": "item is str, not an object",
    }
    nulls = Paper.objects.get(arxiv_id="2403.06977")
    assert (nulls.upvotes, nulls.authors, nulls.num_comments) == (0, [], 0)
    assert nulls.title == "VideoMamba: State Space Model for Efficient Video Understanding"


@respx.mock
def test_it_stores_titles_without_html_but_with_latex():
    serve_hf_api(broken("hf_api_bad_items.json"), day=date(2024, 3, 12))

    catalogue_fetch(source="hf_api", day=date(2024, 3, 12))

    assert Paper.objects.get(arxiv_id="2403.06098").title == (
        r"Sparse attention at $O(n \log n)$ for long contexts & more"
    )


@respx.mock
def test_it_stores_one_paper_for_ids_repeated_in_one_response():
    serve_hf_api(broken("hf_api_bad_items.json"), day=date(2024, 3, 12))

    catalogue_fetch(source="hf_api", day=date(2024, 3, 12))

    assert Paper.objects.filter(arxiv_id="2403.06634").count() == 1
    assert PaperTrend.objects.filter(paper__arxiv_id="2403.06634").count() == 1


@respx.mock
def test_it_stores_a_response_with_non_utf8_bytes_and_flags_it():
    serve_hf_api(broken("hf_api_non_utf8.json"), day=date(2024, 3, 12))

    run = catalogue_fetch(source="hf_api", day=date(2024, 3, 12))

    assert run.status == FetchRun.Status.PARTIAL
    assert run.new_count == 9
    assert "not valid UTF-8" in run.error_text and "2403.06634" in run.error_text
    assert "Tram\ufffdr" in " ".join(Paper.objects.get(arxiv_id="2403.06634").authors)


@respx.mock
@pytest.mark.parametrize(
    ("source", "url", "content"),
    [
        ("hf_api", HF_API_URL, b"[]"),
        ("arxiv_rss", ARXIV_URL, "arxiv_empty.rss.xml"),
    ],
)
def test_it_records_an_empty_day_as_ok_with_nothing(source, url, content):
    body = content if isinstance(content, bytes) else broken(content)
    respx.get(url).mock(return_value=httpx.Response(200, content=body))

    run = catalogue_fetch(source=source, day=ARXIV_DAY)

    assert (run.status, run.new_count, run.updated_count, run.skipped_count) == ("ok", 0, 0, 0)
    assert Paper.objects.count() == 0


@respx.mock
def test_it_succeeds_after_a_500_then_a_200():
    route = respx.get(HF_API_URL).mock(
        side_effect=[httpx.Response(500), httpx.Response(200, content=real("2026-07-01.json"))]
    )

    run = catalogue_fetch(source="hf_api", day=JULY_1)

    assert route.call_count == 2
    assert (run.status, run.new_count) == ("ok", 23)


@respx.mock
def test_it_records_a_timeout_as_a_failed_run_after_retrying():
    route = respx.get(HF_API_URL).mock(side_effect=httpx.ReadTimeout("read timed out"))

    run = catalogue_fetch(source="hf_api", day=JULY_1)

    assert route.call_count == 4  # DIGEST_HTTP_RETRIES = 3
    assert run.status == FetchRun.Status.FAILED
    assert "ReadTimeout" in run.error_text and "after 4 attempt(s)" in run.error_text
    assert Paper.objects.count() == 0


@respx.mock
def test_it_waits_as_told_by_a_429_then_stores_the_day(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr("digest.sources.http.sleep", waited.append)
    respx.get(HF_API_URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "12"}),
            httpx.Response(200, content=real("2026-07-01.json")),
        ]
    )

    run = catalogue_fetch(source="hf_api", day=JULY_1)

    assert waited == [12.0]
    assert (run.status, run.new_count) == ("ok", 23)


def test_it_records_a_crashing_parser_as_failed_instead_of_raising(monkeypatch):
    def explode(self, day):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(HfApiSource, "fetch", explode)

    run = catalogue_fetch(source="hf_api", day=JULY_1)

    assert run.status == FetchRun.Status.FAILED
    assert run.error_text == "unexpected RuntimeError: parser bug"


def test_it_marks_a_run_failed_when_every_item_was_unusable():
    result = HfApiSource().parse(b'[{"paper": null}, {"paper": {"id": "x"}}]')

    run = catalogue_ingest(source="hf_api", day=JULY_1, result=result)

    assert run.status == FetchRun.Status.FAILED
    assert run.skipped_count == 2
    assert run.error_text.startswith("all 2 item(s) were unusable")


# --- merging ------------------------------------------------------------------------


def test_it_merges_hf_and_arxiv_views_of_one_paper():
    catalogue_ingest(
        source="hf_api",
        day=JULY_1,
        result=FetchResult(
            papers=[
                record("2607.00001", "hf_api", title="HF title", abstract="HF abstract", upvotes=5)
            ]
        ),
    )
    catalogue_ingest(
        source="arxiv_rss",
        day=JULY_1,
        result=FetchResult(
            papers=[
                record(
                    "2607.00001",
                    "arxiv_rss",
                    title="arXiv title",
                    abstract="arXiv abstract",
                    authors=["A. Author"],
                    categories=["cs.CL", "cs.AI"],
                )
            ]
        ),
    )

    paper = Paper.objects.get()
    assert paper.title == "HF title"  # HF outranks arXiv
    assert paper.abstract == "HF abstract"
    assert paper.authors == ["A. Author"]  # ... but arXiv fills what HF left blank
    assert paper.categories == ["cs.CL", "cs.AI"]
    assert paper.sources == ["hf_api", "arxiv_rss"]
    assert PaperTrend.objects.filter(paper=paper).count() == 2


def test_it_lets_hf_overwrite_what_arxiv_stored_first():
    catalogue_ingest(
        source="arxiv_rss",
        day=JULY_1,
        result=FetchResult(
            papers=[record("2607.00002", "arxiv_rss", title="arXiv title", categories=["cs.LG"])]
        ),
    )
    catalogue_ingest(
        source="hf_api",
        day=JULY_1,
        result=FetchResult(papers=[record("2607.00002", "hf_api", title="HF title", upvotes=9)]),
    )

    paper = Paper.objects.get()
    assert (paper.title, paper.upvotes, paper.categories) == ("HF title", 9, ["cs.LG"])


def test_it_updates_counters_on_every_fetch_but_never_rolls_them_back():
    def ingest(day, upvotes, stars, source="hf_api"):
        result = FetchResult(
            papers=[record("2607.00003", source, upvotes=upvotes, github_stars=stars, rank=1)]
        )
        return catalogue_ingest(source=source, day=day, result=result)

    ingest(date(2026, 7, 1), upvotes=10, stars=3)
    ingest(date(2026, 7, 2), upvotes=25, stars=8, source="hf_page")
    ingest(date(2026, 7, 1), upvotes=10, stars=3)  # an old file replayed

    paper = Paper.objects.get()
    assert (paper.upvotes, paper.github_stars) == (25, 8)
    snapshots = dict(PaperTrend.objects.values_list("day", "upvotes"))
    assert snapshots == {date(2026, 7, 1): 10, date(2026, 7, 2): 25}


def test_it_keeps_one_paper_and_two_trend_rows_for_a_paper_trending_on_two_days():
    for day in (date(2026, 7, 1), date(2026, 7, 2)):
        catalogue_ingest(
            source="hf_api",
            day=day,
            result=FetchResult(papers=[record("2607.00004", "hf_api", upvotes=1)]),
        )

    assert Paper.objects.count() == 1
    assert sorted(PaperTrend.objects.values_list("day", flat=True)) == [
        date(2026, 7, 1),
        date(2026, 7, 2),
    ]


def test_it_does_not_let_the_page_overwrite_the_api():
    api = HfApiSource().parse(real("2026-07-01.json"))
    api.papers = api.papers[:1]
    catalogue_ingest(source="hf_api", day=JULY_1, result=api)
    page = FetchResult(
        papers=[record("2606.30534", "hf_page", title="Orca (page title)", upvotes=170)]
    )

    catalogue_ingest(source="hf_page", day=JULY_1, result=page)

    orca = Paper.objects.get()
    assert orca.title == "Orca: The World is in Your Mind"
    assert orca.upvotes == 170
    assert orca.sources == ["hf_api", "hf_page"]


# --- selectors ----------------------------------------------------------------------


def test_it_knows_no_trending_day_before_any_fetch():
    assert latest_trending_day() is None


def test_it_lists_a_day_deduplicated_by_upvotes_with_arxiv_only_papers_last():
    catalogue_ingest(
        source="hf_api",
        day=JULY_1,
        result=FetchResult(
            papers=[
                record("2607.00010", "hf_api", upvotes=30, rank=1),
                record("2607.00011", "hf_api", upvotes=12, rank=2),
            ]
        ),
    )
    catalogue_ingest(
        source="hf_page",
        day=JULY_1,
        result=FetchResult(papers=[record("2607.00011", "hf_page", upvotes=40, rank=1)]),
    )
    catalogue_ingest(
        source="arxiv_rss",
        day=JULY_1,
        result=FetchResult(
            papers=[
                record("2607.00021", "arxiv_rss", rank=1),
                record("2607.00010", "arxiv_rss", rank=2),
                record("2607.00020", "arxiv_rss", rank=3),
            ]
        ),
    )
    catalogue_ingest(
        source="hf_api",
        day=date(2026, 7, 2),
        result=FetchResult(papers=[record("2607.00099", "hf_api", upvotes=500, rank=1)]),
    )

    papers = paper_list_for_day(day=JULY_1)

    assert [p.arxiv_id for p in papers] == ["2607.00011", "2607.00010", "2607.00021", "2607.00020"]
    assert latest_trending_day() == date(2026, 7, 2)


def test_it_lists_a_week_from_monday_to_sunday_once_per_paper():
    def trend(arxiv_id, day, upvotes):
        catalogue_ingest(
            source="hf_api",
            day=day,
            result=FetchResult(papers=[record(arxiv_id, "hf_api", upvotes=upvotes, rank=1)]),
        )

    trend("2607.00030", date(2026, 6, 28), 99)  # Sunday before
    trend("2607.00031", date(2026, 6, 29), 5)  # Monday
    trend("2607.00032", date(2026, 7, 1), 20)
    trend("2607.00031", date(2026, 7, 2), 50)  # trends again, higher
    trend("2607.00033", date(2026, 7, 5), 1)  # Sunday
    trend("2607.00034", date(2026, 7, 6), 99)  # next Monday

    from_monday = paper_list_for_week(week_start=date(2026, 6, 29))
    from_wednesday = paper_list_for_week(week_start=date(2026, 7, 1))

    assert [p.arxiv_id for p in from_monday] == ["2607.00031", "2607.00032", "2607.00033"]
    assert from_wednesday == from_monday


def test_it_lists_a_real_day_in_hf_order():
    catalogue_ingest(
        source="hf_api", day=JULY_1, result=HfApiSource().parse(real("2026-07-01.json"))
    )
    catalogue_ingest(
        source="hf_page",
        day=date(2024, 8, 1),
        result=HfPageSource().parse(real("huggingface_papers_2024-08.html")),
    )

    papers = paper_list_for_day(day=JULY_1)

    assert len(papers) == 23
    assert [p.arxiv_id for p in papers[:3]] == ["2606.30534", "2606.28436", "2606.31315"]
    upvotes = [p.upvotes for p in papers]
    assert upvotes == sorted(upvotes, reverse=True)


# --- admin --------------------------------------------------------------------------


@respx.mock
def test_it_shows_runs_with_their_skipped_reasons_in_the_admin(admin_client):
    serve_hf_api(broken("hf_api_bad_items.json"), day=date(2024, 3, 12))
    run = catalogue_fetch(source="hf_api", day=date(2024, 3, 12))

    listing = admin_client.get("/admin/digest/fetchrun/")
    detail = admin_client.get(f"/admin/digest/fetchrun/{run.pk}/change/")
    papers = admin_client.get("/admin/digest/paper/", {"q": "VideoMamba"})

    assert listing.status_code == 200 and "partial" in listing.content.decode().lower()
    assert detail.status_code == 200
    assert "not an arXiv id: &#x27;not-an-arxiv-id&#x27;" in detail.content.decode()
    assert papers.status_code == 200 and "2403.06977" in papers.content.decode()
