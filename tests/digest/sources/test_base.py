from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from digest.sources import enabled_source_names, get_source
from digest.sources.arxiv_rss import ArxivRssSource
from digest.sources.base import (
    clean_title,
    decode_body,
    is_valid_arxiv_id,
    latex_accents_to_unicode,
    normalise_arxiv_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2403.06634v2", "2403.06634"),
        ("https://arxiv.org/abs/2604.21935", "2604.21935"),
        ("oai:arXiv.org:2604.21935v1", "2604.21935"),
        ("http://arxiv.org/abs/1805.06430", "1805.06430"),
        ("https://huggingface.co/papers/2407.21783", "2407.21783"),
    ],
)
def test_it_normalises_arxiv_ids(raw, expected):
    assert normalise_arxiv_id(raw) == expected
    assert is_valid_arxiv_id(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "Adding NVMe SSDs to Enable and\n  Accelerate",
            "Adding NVMe SSDs to Enable and Accelerate",
        ),
        ("<i>Deep</i> nets for H<sub>2</sub>O", "Deep nets for H2O"),
        ("Line<br/>break", "Line break"),
        ("with <1 GB VRAM", "with <1 GB VRAM"),
        ("MITRE ATT&CK", "MITRE ATT&CK"),
        ("Tom &amp; Jerry &#233;", "Tom & Jerry é"),
        (r"Bounds for $a<b$ and $\mathcal{O}(n)$", r"Bounds for $a<b$ and $\mathcal{O}(n)$"),
        (None, ""),
    ],
)
def test_it_cleans_titles(raw, expected):
    assert clean_title(raw) == expected


def test_it_turns_latex_accents_into_letters():
    assert latex_accents_to_unicode(r"Paulo Andr\'e, G\"{o}del, Mu\~noz") == (
        "Paulo André, Gödel, Muñoz"
    )


def test_it_decodes_bad_bytes_without_failing():
    assert decode_body("é".encode()) == ("é", False)
    assert decode_body(b"Tram\xe8r") == ("Tram\ufffdr", True)


def test_it_builds_sources_by_name():
    assert isinstance(get_source("arxiv_rss"), ArxivRssSource)
    with pytest.raises(ValueError, match="unknown source"):
        get_source("twitter")


def test_it_refuses_unknown_names_in_the_settings(settings):
    settings.DIGEST_SOURCES = ["hf_api", "hf_apii"]

    with pytest.raises(ImproperlyConfigured, match="hf_apii"):
        enabled_source_names()
