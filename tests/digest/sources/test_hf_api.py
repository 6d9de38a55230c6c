from __future__ import annotations

import json
from datetime import UTC, date, datetime

import httpx
import pytest
import respx

from digest.sources.base import SourceError
from digest.sources.hf_api import HfApiSource
from tests.digest.sources.helpers import HF_API_URL, SAMPLE_DIR, broken, real


def by_id(result):
    return {p.arxiv_id: p for p in result.papers}


def test_it_parses_the_2026_schema():
    result = HfApiSource().parse(real("2026-07-01.json"))

    assert len(result.papers) == 23
    assert result.skipped == [] and result.warnings == []
    assert result.day == date(2026, 7, 1)
    orca = result.papers[0]
    assert orca.arxiv_id == "2606.30534"
    assert orca.title == "Orca: The World is in Your Mind"
    assert orca.source == "hf_api"
    assert orca.rank == 1
    assert orca.upvotes == 162
    assert orca.num_comments == 5
    assert orca.authors[:2] == ["Yihao Wang", "Yuheng Ji"]
    assert orca.project_page == "https://orca-wm.github.io/"
    assert orca.thumbnail_url == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2606.30534.png"
    )
    assert orca.ai_summary.startswith("Orca establishes a unified world latent space")
    assert orca.ai_keywords[:2] == ["world foundation model", "world latent space"]
    assert orca.published_at == datetime(2026, 6, 29, tzinfo=UTC)
    # The day it trended is submittedOnDailyAt, not the arXiv date.
    assert orca.trending_day == date(2026, 7, 1)


def test_it_keeps_github_stars_and_organisation():
    papers = by_id(HfApiSource().parse(real("2026-07-01.json")))

    blockpilot = papers["2606.31315"]
    assert blockpilot.github_repo == "https://github.com/AMAP-ML/BlockPilot"
    assert blockpilot.github_stars == 20
    assert blockpilot.upvotes == 64
    dockerless = papers["2606.28436"]
    assert dockerless.organization == "ByteDance"
    assert dockerless.github_repo is None  # optional keys really are optional


def test_it_parses_the_2024_schema_and_normalises_hard_line_breaks():
    result = HfApiSource().parse(real("daily_papers_2024-03-12.json"))

    assert len(result.papers) == 9
    papers = by_id(result)
    fuyou = papers["2403.06504"]
    # paper.title is "...Fine-tuning on a\n  Single GPU" in the raw bytes.
    assert fuyou.title == (
        "Adding NVMe SSDs to Enable and Accelerate 100B Model Fine-tuning on a Single GPU"
    )
    assert fuyou.upvotes == 38
    assert fuyou.num_comments == 3
    assert fuyou.authors[0] == "Changyue Liao"
    stealing = papers["2403.06634"]
    assert stealing.upvotes == 63
    assert "Florian Tramèr" in stealing.authors
    assert "\n" not in stealing.abstract
    # 2024 had no submittedOnDailyAt: the top-level publishedAt is the submission time.
    assert stealing.trending_day == date(2024, 3, 12)
    assert stealing.thumbnail_url is None and stealing.ai_summary is None
    assert result.day == date(2024, 3, 12)


def test_it_keeps_real_titles_with_ampersands_and_less_than_signs():
    atck = by_id(HfApiSource().parse(real("2026-07-29.json")))["2607.25572"]
    turbo = by_id(HfApiSource().parse(real("2026-07-30.json")))["2607.27205"]

    assert atck.title.startswith("Mapping CVEs to MITRE ATT&CK Techniques:")
    assert turbo.title == (
        "TurboVLA: Real-Time Vision-Language-Action Model at 32 Hz on an RTX 4090 with <1 GB VRAM"
    )
    assert turbo.upvotes == 100


def test_it_skips_bad_items_with_their_reason_and_keeps_the_rest():
    result = HfApiSource().parse(broken("hf_api_bad_items.json"))

    assert [p.arxiv_id for p in result.papers] == ["2403.06634", "2403.06977", "2403.06098"]
    assert [(s.reason, s.identifier) for s in result.skipped] == [
        ("no 'paper' object", "item 2"),
        ("missing title", "2403.06738"),
        ("duplicate id in response", "2403.06634"),
        ("not an arXiv id: 'not-an-arxiv-id'", "not-an-arxiv-id"),
        ("item is str, not an object", "item 8"),
    ]
    nulls = result.papers[1]
    assert nulls.upvotes is None and nulls.authors is None and nulls.num_comments is None
    assert [p.rank for p in result.papers] == [1, 2, 3]


def test_it_strips_html_from_titles_but_keeps_latex():
    result = HfApiSource().parse(broken("hf_api_bad_items.json"))

    assert result.papers[2].title == (r"Sparse attention at $O(n \log n)$ for long contexts & more")


def test_it_reads_non_utf8_bytes_and_says_which_paper_was_damaged():
    result = HfApiSource().parse(broken("hf_api_non_utf8.json"))

    assert len(result.papers) == 9
    assert "Tram\ufffdr" in " ".join(result.papers[0].authors)
    assert result.warnings == [
        "response was not valid UTF-8; bad bytes replaced with U+FFFD in 2403.06634"
    ]


def test_it_raises_source_error_on_malformed_json():
    with pytest.raises(SourceError, match="malformed JSON"):
        HfApiSource().parse(broken("hf_api_malformed.json"))


@pytest.mark.parametrize("body", [b'{"error": "Invalid date"}', b'"nope"', b"42"])
def test_it_raises_source_error_on_json_that_is_not_a_list(body):
    with pytest.raises(SourceError):
        HfApiSource().parse(body)


def test_it_treats_an_empty_array_as_an_empty_day():
    result = HfApiSource().parse(broken("hf_api_empty.json"))

    assert result.papers == [] and result.skipped == [] and result.day is None


def test_it_parses_every_shipped_sample_file():
    files = sorted(SAMPLE_DIR.glob("*.json"))
    assert len(files) == 30
    for path in files:
        result = HfApiSource().parse(path.read_bytes())
        assert result.skipped == [], path.name
        assert result.day == date.fromisoformat(path.stem), path.name
        assert len(result.papers) == len(json.loads(path.read_bytes())), path.name


@respx.mock
def test_it_fetches_the_real_endpoint_with_the_date():
    route = respx.get(HF_API_URL, params={"date": "2026-07-01"}).mock(
        return_value=httpx.Response(200, content=real("2026-07-01.json"))
    )

    result = HfApiSource().fetch(date(2026, 7, 1))

    assert route.call_count == 1
    assert len(result.papers) == 23


@respx.mock
def test_it_fetches_a_whole_week_for_backfills():
    route = respx.get(HF_API_URL, params={"week": "2026-W27"}).mock(
        return_value=httpx.Response(200, content=real("2026-07-01.json"))
    )

    result = HfApiSource().fetch_period(week="2026-W27")

    assert route.call_count == 1
    assert {p.trending_day for p in result.papers} == {date(2026, 7, 1)}
