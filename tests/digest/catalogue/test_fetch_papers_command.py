from __future__ import annotations

import json
import re
import shutil
from datetime import date
from io import StringIO

import httpx
import pytest
import respx
from django.core.management import CommandError, call_command

from digest.models import FetchRun, Paper, PaperTrend
from tests.digest.sources.helpers import (
    ARXIV_API_URL,
    FIXTURES,
    HF_API_URL,
    SAMPLE_DIR,
    arxiv_api_answer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_waiting(settings, monkeypatch):
    settings.DIGEST_SOURCES = ["hf_api", "hf_page", "arxiv_rss"]
    settings.DIGEST_HTTP_RETRIES = 1
    monkeypatch.setattr("digest.sources.http.sleep", lambda seconds: None)


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("fetch_papers", *args, stdout=out)
    return out.getvalue()


def sample_ids_and_items() -> tuple[set[str], int]:
    ids: set[str] = set()
    items = 0
    for path in SAMPLE_DIR.glob("*.json"):
        day_items = json.loads(path.read_bytes())
        items += len(day_items)
        ids.update(item["paper"]["id"] for item in day_items)
    return ids, items


def test_it_backfills_30_days_from_the_shipped_files_with_progress_and_a_summary():
    ids, items = sample_ids_and_items()

    out = run_command("--since", "2026-06-29", "--until", "2026-08-07", "--file", str(SAMPLE_DIR))

    progress = [line for line in out.splitlines() if line.startswith("[")]
    assert len(progress) == 30
    assert progress[0].startswith("[ 1/30] 2026-06-29 hf_api    ok")
    assert "new=17 updated=0 skipped=0 errors=0" in progress[0]
    assert progress[-1].startswith("[30/30] 2026-08-07 hf_api    ok")
    assert (
        f"Summary: 30 day(s), 30 run(s), {len(ids)} paper(s): {len(ids)} new, "
        f"{items - len(ids)} updated, 0 skipped, 0 errors"
    ) in out
    assert "Failed: none" in out
    assert Paper.objects.count() == len(ids)
    assert PaperTrend.objects.count() == items
    assert FetchRun.objects.filter(status="ok").count() == 30


def test_it_says_updated_and_makes_no_duplicates_when_the_backfill_runs_again():
    ids, items = sample_ids_and_items()
    run_command("--file", str(SAMPLE_DIR))

    out = run_command("--since", "2026-06-29", "--until", "2026-08-07", "--file", str(SAMPLE_DIR))

    assert f"0 new, {items} updated, 0 skipped, 0 errors" in out
    assert Paper.objects.count() == len(ids)
    assert PaperTrend.objects.count() == items


def test_it_ingests_only_the_files_of_the_requested_days():
    out = run_command("--since", "2026-07-01", "--until", "2026-07-03", "--file", str(SAMPLE_DIR))

    assert re.findall(r"\] (\S+) hf_api", out) == ["2026-07-01", "2026-07-02", "2026-07-03"]
    assert "Summary: 3 day(s), 3 run(s), 66 paper(s): 66 new" in out
    assert set(PaperTrend.objects.values_list("day", flat=True)) == {
        date(2026, 7, 1),
        date(2026, 7, 2),
        date(2026, 7, 3),
    }


def test_it_takes_the_day_from_date_then_the_file_name_then_the_data(tmp_path):
    undated = tmp_path / "saved.json"
    shutil.copy(SAMPLE_DIR / "2026-07-15.json", undated)

    run_command("--file", str(SAMPLE_DIR / "2026-07-14.json"))
    run_command("--file", str(undated))
    run_command("--file", str(undated), "--date", "2026-07-18")

    assert list(FetchRun.objects.order_by("pk").values_list("day", flat=True)) == [
        date(2026, 7, 14),
        date(2026, 7, 15),  # submittedOnDailyAt
        date(2026, 7, 18),
    ]


def test_it_detects_the_format_of_saved_pages_and_feeds():
    page_out = run_command("--file", str(FIXTURES / "real" / "huggingface_papers_2024-08.html"))
    feed_out = run_command("--file", str(FIXTURES / "real" / "cs.AI.atom.xml"))
    rdf_out = run_command("--file", str(FIXTURES / "real" / "hep-ex_2018-05-23.rdf.xml"))

    assert "2024-08-01 hf_page   ok      new=13" in page_out
    assert "2025-08-20 arxiv_rss ok      new=7" in feed_out
    assert "2018-05-23 arxiv_rss ok      new=2" in rdf_out
    assert Paper.objects.get(arxiv_id="2508.13429").authors == ["Paulo André Lima de Castro"]


def test_it_reports_bad_data_in_the_summary_without_failing(tmp_path):
    shutil.copy(FIXTURES / "broken" / "hf_api_malformed.json", tmp_path / "2024-03-12.json")
    shutil.copy(FIXTURES / "real" / "daily_papers_2024-03-12.json", tmp_path / "2024-03-13.json")
    shutil.copy(FIXTURES / "broken" / "hf_api_bad_items.json", tmp_path / "2024-03-14.json")

    out = run_command("--file", str(tmp_path))

    assert "2024-03-12 hf_api    failed  new=0" in out
    assert "2024-03-14 hf_api    partial new=0 updated=3 skipped=5" in out
    assert "Failed (1):\n  hf_api 2024-03-12: malformed JSON" in out
    assert FetchRun.objects.get(day=date(2024, 3, 12)).status == FetchRun.Status.FAILED
    assert Paper.objects.count() == 9


def test_it_reports_a_file_whose_day_cannot_be_known(tmp_path):
    cards = tmp_path / "papers.html"
    shutil.copy(FIXTURES / "broken" / "hf_page_cards_only.html", cards)

    out = run_command("--file", str(cards))

    assert "papers.html: failed: no date in its name or data; pass --date" in out
    assert Paper.objects.count() == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--date", "2026-07-01", "--since", "2026-07-01"],
        ["--until", "2026-07-01"],
        ["--since", "2026-07-02", "--until", "2026-07-01"],
        ["--date", "yesterday"],
        ["--source", "twitter"],
        ["--file", "/nonexistent/path"],
        ["--file", "x.json", "--source", "hf_api", "hf_page"],
    ],
)
def test_it_refuses_bad_usage(args):
    with pytest.raises(CommandError):
        run_command(*args)


def test_it_refuses_a_range_with_a_single_file():
    with pytest.raises(CommandError, match="directory"):
        run_command("--since", "2026-07-01", "--file", str(SAMPLE_DIR / "2026-07-01.json"))


@respx.mock
def test_it_fetches_live_from_the_real_url_for_each_day_and_source():
    route = respx.get(HF_API_URL).mock(
        side_effect=lambda request: httpx.Response(
            200, content=(SAMPLE_DIR / f"{request.url.params['date']}.json").read_bytes()
        )
    )

    out = run_command("--since", "2026-07-01", "--until", "2026-07-02", "--source", "hf_api")

    assert [str(c.request.url) for c in route.calls] == [
        f"{HF_API_URL}?date=2026-07-01",
        f"{HF_API_URL}?date=2026-07-02",
    ]
    assert "[1/2] 2026-07-01 hf_api    ok      new=23" in out
    assert "Summary: 2 day(s), 2 run(s), 46 paper(s): 46 new" in out


ARXIV_SAMPLE_DIR = SAMPLE_DIR.parent / "arxiv_api"


def test_saved_arxiv_api_answers_give_the_sample_papers_categories_after_the_other_files(
    tmp_path,
):
    # One directory with both, the answer's name sorting first: it is still applied last.
    shutil.copy(SAMPLE_DIR / "2026-07-01.json", tmp_path / "2026-07-01.json")
    shutil.copy(ARXIV_SAMPLE_DIR / "2026-07-01.xml", tmp_path / "2026-07-01-a.xml")

    out = run_command("--file", str(tmp_path))

    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert lines[0].startswith("[1/2] 2026-07-01 hf_api    ok      new=23")
    assert lines[1].startswith("[2/2] 2026-07-01 arxiv_api ok      new=0 updated=23")
    assert not Paper.objects.filter(categories=[]).exists()
    assert Paper.objects.get(arxiv_id="2606.31315").categories[0].startswith("cs.")


def test_every_shipped_sample_paper_has_a_shipped_arxiv_answer():
    run_command("--file", str(SAMPLE_DIR))

    out = run_command("--file", str(ARXIV_SAMPLE_DIR))

    assert "Failed: none" in out and " 0 skipped, 0 errors" in out
    assert not Paper.objects.filter(categories=[]).exists()


def test_a_saved_answer_that_is_garbage_is_a_failed_lookup_run(tmp_path):
    shutil.copy(FIXTURES / "broken" / "arxiv_api_truncated.xml", tmp_path / "2026-07-01.xml")

    out = run_command("--file", str(tmp_path / "2026-07-01.xml"))

    assert "2026-07-01 arxiv_api failed" in out
    assert FetchRun.objects.get().source == "arxiv_api"


@respx.mock
def test_live_the_lookup_runs_after_the_sources_of_each_day():
    respx.get(HF_API_URL).mock(
        side_effect=lambda request: httpx.Response(
            200, content=(SAMPLE_DIR / f"{request.url.params['date']}.json").read_bytes()
        )
    )
    api = respx.get(ARXIV_API_URL).mock(
        side_effect=lambda request: httpx.Response(
            200,
            content=arxiv_api_answer(
                {i: ["cs.LG"] for i in request.url.params["id_list"].split(",")}
            ),
        )
    )

    out = run_command("--date", "2026-07-01", "--source", "hf_api", "arxiv_api")

    assert "[2/2] 2026-07-01 arxiv_api ok      new=0 updated=23" in out
    assert api.call_count == 1
    assert set(map(tuple, Paper.objects.values_list("categories", flat=True))) == {("cs.LG",)}
