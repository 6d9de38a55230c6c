"""Load the real Hugging Face daily papers shipped in digest/sample_data for the benchmarks."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "digest" / "sample_data" / "hf_daily_papers"

sys.path.insert(0, str(ROOT))

from digest.ranking import Candidate  # noqa: E402


@dataclass(frozen=True, slots=True)
class RealPaper:
    candidate: Candidate
    day: str


def load_papers(data_dir: Path = DATA_DIR) -> list[RealPaper]:
    """Every distinct paper of the daily files, in day order (first appearance wins)."""
    files = sorted(data_dir.glob("*.json"))
    if not files:
        raise SystemExit(f"no daily papers files in {data_dir}")
    seen: dict[str, RealPaper] = {}
    for path in files:
        for item in json.loads(path.read_text(encoding="utf-8")):
            paper = item["paper"]
            if paper["id"] in seen:
                continue
            seen[paper["id"]] = RealPaper(_candidate(paper), path.stem)
    return list(seen.values())


def _candidate(paper: dict) -> Candidate:
    return Candidate(
        arxiv_id=paper["id"],
        title=" ".join(paper["title"].split()),
        abstract=paper.get("summary", ""),
        authors=tuple(a["name"] for a in paper.get("authors", []) if a.get("name")),
        ai_keywords=tuple(k for k in paper.get("ai_keywords", []) if k.strip()),
        upvotes=int(paper.get("upvotes", 0)),
    )
