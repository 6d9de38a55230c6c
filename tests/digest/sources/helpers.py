"""Recorded upstream responses for the source tests (copies of the shared real samples)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sources"
SAMPLE_DIR = Path(__file__).resolve().parents[3] / "digest" / "sample_data" / "hf_daily_papers"

HF_API_URL = "https://huggingface.co/api/daily_papers"
HF_PAGE_URL = "https://huggingface.co/papers/date/"
ARXIV_URL = "https://rss.arxiv.org/rss/cs.AI+cs.CL+cs.CV+cs.LG"


def real(name: str) -> bytes:
    return (FIXTURES / "real" / name).read_bytes()


def broken(name: str) -> bytes:
    return (FIXTURES / "broken" / name).read_bytes()


ARXIV_API_URL = "https://export.arxiv.org/api/query"


def arxiv_api_answer(categories: dict[str, list[str]]) -> bytes:
    """An arXiv API answer shaped like the recorded one (2104.12255v1), one entry per id,
    each with these categories (the first is the primary one)."""
    template = real("arxiv_api_id_list_2104.12255v1_2026-04.xml").decode()
    head, rest = template.split("<entry>", 1)
    entry, tail = rest.split("</entry>", 1)
    entries = []
    for arxiv_id, terms in categories.items():
        one = entry.replace("2104.12255", arxiv_id)
        one = one.replace(
            '<category term="cs.CR" scheme="http://arxiv.org/schemas/atom"/>',
            "".join(
                f'<category term="{t}" scheme="http://arxiv.org/schemas/atom"/>' for t in terms
            ),
        )
        one = one.replace('<arxiv:primary_category term="cs.CR"/>', "")
        one += f'<arxiv:primary_category term="{terms[0]}"/>' if terms else ""
        entries.append(f"<entry>{one}</entry>")
    return (head + "".join(entries) + tail).encode()
