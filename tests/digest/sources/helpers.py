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
