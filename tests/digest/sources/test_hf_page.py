from __future__ import annotations

from datetime import date

import httpx
import pytest
import respx

from digest.sources.base import SKIP_FILTERED, SourceError
from digest.sources.hf_page import HfPageSource
from tests.digest.sources.helpers import HF_PAGE_URL, broken, real


def test_it_reads_the_daily_papers_island():
    result = HfPageSource().parse(real("huggingface_papers_2024-08.html"))

    assert result.day == date(2024, 8, 1)
    assert len(result.papers) == 13
    assert result.warnings == []
    llama = result.papers[0]
    assert (llama.arxiv_id, llama.title, llama.upvotes) == (
        "2407.21783",
        "The Llama 3 Herd of Models",
        94,
    )
    assert llama.source == "hf_page"
    assert llama.authors[:2] == ["Abhimanyu Dubey", "Abhinav Jauhri"]
    assert llama.num_comments == 5
    assert llama.abstract.startswith("Modern artificial intelligence (AI) systems")
    moma = result.papers[2]
    assert moma.title == (
        "MoMa: Efficient Early-Fusion Pre-training with Mixture of Modality-Aware Experts"
    )
    assert result.papers[-1].arxiv_id == "2404.01300"


def test_it_falls_back_to_the_server_rendered_cards():
    result = HfPageSource().parse(broken("hf_page_cards_only.html"))

    assert len(result.papers) == 13
    llama = result.papers[0]
    assert (llama.arxiv_id, llama.title, llama.upvotes, llama.num_comments) == (
        "2407.21783",
        "The Llama 3 Herd of Models",
        94,
        5,
    )
    assert llama.thumbnail_url.endswith("/papers/2407.21783.png")
    assert llama.authors is None  # the cards only show avatars
    assert result.papers[1].upvotes == 24
    assert result.papers[3].title == (
        "Towards Achieving Human Parity on End-to-end Simultaneous Speech Translation via LLM Agent"
    )
    assert result.warnings == ["no DailyPapers data-props; used the server-rendered cards"]


def test_it_keeps_the_complete_cards_of_a_truncated_page():
    result = HfPageSource().parse(broken("hf_page_truncated.html"))

    assert [p.arxiv_id for p in result.papers] == [
        "2407.21783",
        "2407.21705",
        "2407.21770",
        "2407.21646",
        "2407.21772",
    ]
    assert [(s.reason, s.identifier) for s in result.skipped] == [
        ("card without a title link", "card 6")
    ]


def test_it_raises_source_error_when_the_page_is_cut_inside_the_island():
    with pytest.raises(SourceError, match="no papers on the page"):
        HfPageSource().parse(broken("hf_page_truncated_in_props.html"))


def test_it_raises_source_error_on_a_page_without_papers():
    with pytest.raises(SourceError):
        HfPageSource().parse(b"<!doctype html><html><body>Service unavailable</body></html>")


@respx.mock
def test_it_fetches_the_dated_page():
    route = respx.get(f"{HF_PAGE_URL}2024-08-01").mock(
        return_value=httpx.Response(200, content=real("huggingface_papers_2024-08.html"))
    )

    result = HfPageSource().fetch(date(2024, 8, 1))

    assert route.called
    assert len(result.papers) == 13


@respx.mock
def test_it_leaves_out_a_page_that_shows_another_day():
    respx.get(f"{HF_PAGE_URL}2024-08-03").mock(
        return_value=httpx.Response(200, content=real("huggingface_papers_2024-08.html"))
    )

    result = HfPageSource().fetch(date(2024, 8, 3))

    assert result.papers == []
    assert result.skipped[0].kind == SKIP_FILTERED
    assert "page shows 2024-08-01, not 2024-08-03" in result.skipped[0].reason
