from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
import respx

from digest.sources.arxiv_rss import ArxivRssSource
from digest.sources.base import SKIP_BAD, SKIP_FILTERED, SourceError
from tests.digest.sources.helpers import ARXIV_URL, broken, real


def source(**kwargs) -> ArxivRssSource:
    return ArxivRssSource(**kwargs)


def test_it_parses_the_rss_2_feed():
    result = source().parse(real("cs.AI.rss.xml"))

    assert result.day == date(2026, 4, 27)
    assert [p.arxiv_id for p in result.papers] == ["2604.21935", "2604.21936", "2604.21937"]
    math = result.papers[0]
    assert math.title == (
        "Math Takes Two: A test for emergent mathematical reasoning in communication"
    )
    assert math.authors == ["Michael Cooper", "Samuel Cooper"]
    assert math.categories == ["cs.AI", "cs.LG"]
    assert math.announce_type == "new"
    assert math.abstract.startswith("Although language models demonstrate")
    assert "Announce Type" not in math.abstract
    assert math.published_at == datetime(2026, 4, 27, 4, tzinfo=UTC)
    assert math.trending_day == date(2026, 4, 27)
    assert math.source == "arxiv_rss" and math.rank == 1
    assert result.papers[1].categories == ["cs.AI", "cs.CV", "cs.MA"]
    assert len(result.papers[1].authors) == 18


@pytest.mark.parametrize("name", ["cs.CL.rss.xml", "cs.LG.rss.xml"])
def test_it_parses_the_other_category_feeds(name):
    result = source().parse(real(name))

    assert len(result.papers) == 3
    assert all(p.categories and p.authors and p.abstract for p in result.papers)
    assert result.day == date(2026, 4, 27)


def test_it_parses_the_atom_feed_with_cross_lists_and_new_items():
    result = source().parse(real("cs.AI.atom.xml"))

    assert result.day == date(2025, 8, 20)
    assert [p.announce_type for p in result.papers] == ["cross"] * 5 + ["new"] * 2
    align = result.papers[0]
    assert align.arxiv_id == "2508.13426"
    assert align.title.startswith("ALIGN: Word Association Learning")
    assert align.categories == ["cs.CL", "cs.AI"]  # primary first
    assert align.authors == ["Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang"]
    # LaTeX accents in dc:creator become real letters.
    assert result.papers[2].authors == ["Paulo André Lima de Castro"]
    assert result.papers[2].categories == ["q-fin.CP", "cs.AI"]
    assert result.papers[5].title == "Neural Architecture Search for Efficient Transformers"


def test_it_parses_the_legacy_rdf_feed():
    result = source(include_replacements=True).parse(real("hep-ex_2018-05-23.rdf.xml"))

    assert result.day == date(2018, 5, 23)
    first, cross, updated = result.papers
    assert first.arxiv_id == "1805.08875"
    assert first.title == "Measurement of Transverse Single Spin Asymmetries"
    assert first.authors == ["Christopher Dilks"]  # "(STAR Collaboration)" is not a name
    assert first.categories == ["hep-ex"]
    assert first.announce_type == "new"
    assert "<p>" not in first.abstract and r"$2.6<\eta<4$" in first.abstract
    assert cross.title == "Recent Top quark results from the Tevatron"
    assert cross.announce_type == "cross"
    assert updated.title == "New Perspective on Hybrid Mesons"
    assert updated.announce_type == "replace"
    assert updated.categories == ["nucl-th"]
    assert updated.authors == [
        "Shu-Sheng Xu",
        "Zhu-Fang Cui",
        "Lei Chang",
        "Joannis Papavassiliou",
        "Craig D. Roberts",
        "Hong-Shi Zong",
    ]


def test_it_leaves_out_replacements_unless_the_setting_includes_them():
    without = source(include_replacements=False).parse(broken("arxiv_bad_items.rss.xml"))
    with_them = source(include_replacements=True).parse(broken("arxiv_bad_items.rss.xml"))

    filtered = [(s.identifier, s.kind) for s in without.skipped if s.kind == SKIP_FILTERED]
    assert filtered == [("2604.10001", SKIP_FILTERED), ("2604.10002", SKIP_FILTERED)]
    assert {"2604.10001", "2604.10002"} <= {p.arxiv_id for p in with_them.papers}
    assert len(with_them.papers) == len(without.papers) + 2


def test_it_follows_the_setting_for_replacements(settings):
    settings.DIGEST_ARXIV_INCLUDE_REPLACEMENTS = True

    result = ArxivRssSource().parse(broken("arxiv_bad_items.rss.xml"))

    assert "2604.10001" in {p.arxiv_id for p in result.papers}


def test_it_skips_bad_items_with_their_reason():
    result = source().parse(broken("arxiv_bad_items.rss.xml"))

    assert [p.arxiv_id for p in result.papers] == ["2604.21935", "2604.21936", "2604.21937"]
    bad = [(s.reason, s.identifier) for s in result.skipped if s.kind == SKIP_BAD]
    assert bad == [
        ("no arXiv id in id/guid/link", "item 4"),
        ("2604.30001 has no title", "oai:arXiv.org:2604.30001v1"),
        ("duplicate id in feed", "2604.21935"),
    ]


def test_it_reads_a_feed_that_is_not_well_formed_leniently():
    result = source().parse(broken("arxiv_not_well_formed.rss.xml"))

    assert len(result.papers) == 3
    assert result.papers[0].title.startswith("Math Takes Two & Three: A test <3")
    assert result.warnings and "not well-formed" in result.warnings[0]


def test_it_treats_a_feed_without_items_as_an_empty_day():
    result = source().parse(broken("arxiv_empty.rss.xml"))

    assert result.papers == [] and result.skipped == []
    assert result.day == date(2026, 4, 27)


@pytest.mark.parametrize("body", [b"", b"<html><body>oops</body></html>", b"\x00\xff garbage"])
def test_it_raises_source_error_on_something_that_is_not_a_feed(body):
    with pytest.raises(SourceError, match="unreadable feed"):
        source().parse(body)


@respx.mock
def test_it_fetches_the_configured_categories_in_one_request(settings):
    settings.DIGEST_ARXIV_CATEGORIES = ["cs.AI", "cs.CL", "cs.CV", "cs.LG"]
    route = respx.get(ARXIV_URL).mock(
        return_value=httpx.Response(200, content=real("cs.AI.rss.xml"))
    )

    result = ArxivRssSource().fetch(date(2026, 4, 27))

    assert route.call_count == 1
    assert len(result.papers) == 3


@respx.mock
def test_it_leaves_out_a_feed_announcing_another_day():
    respx.get(ARXIV_URL).mock(return_value=httpx.Response(200, content=real("cs.AI.rss.xml")))

    result = source(categories=["cs.AI", "cs.CL", "cs.CV", "cs.LG"]).fetch(date(2026, 4, 28))

    assert result.papers == []
    assert result.skipped[0].kind == SKIP_FILTERED
    assert "feed announces 2026-04-27, not 2026-04-28" in result.skipped[0].reason
