"""Build digest/sample_data/arxiv_api/: arXiv API answers for the shipped sample papers.

The offline demo replays these instead of asking export.arxiv.org. They are NOT recorded:
the sample papers' real categories could not be fetched (no network where the project
is built), so each paper's categories are assigned here by keyword rules over its title,
abstract and Hugging Face ai_keywords, and written in the API's Atom format (one file per
day, at most 100 entries, as the live lookup asks; no abstracts or authors, which the
catalogue already has). Real answers of that format are in
tests/fixtures/sources/real/arxiv_api_*.xml.

    .venv/bin/python scripts/sample_arxiv_answers.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

BASE = Path(__file__).resolve().parent.parent / "digest" / "sample_data"
SOURCE = BASE / "hf_daily_papers"
TARGET = BASE / "arxiv_api"
MAX_CATEGORIES = 3

# Category -> words or phrases (matched as whole words, lower case). A paper's primary
# category is the one with the most hits (ties: this order); up to two more cross-lists.
RULES: dict[str, tuple[str, ...]] = {
    "cs.RO": ("robot", "robotic", "manipulation", "embodied", "humanoid", "locomotion",
              "vision-language-action", "vla", "autonomous driving", "grasping"),
    "cs.CV": ("image", "images", "video", "videos", "visual", "vision", "3d", "pixel",
              "segmentation", "detection", "gaussian splatting", "camera", "scene",
              "text-to-image", "text-to-video", "multimodal", "photo"),
    "cs.CL": ("language model", "language models", "llm", "llms", "text", "translation",
              "linguistic", "question answering", "tokenizer", "nlp", "dialogue", "chat"),
    "cs.SD": ("speech", "audio", "music", "sound", "voice", "spoken"),
    "cs.CR": ("security", "jailbreak", "privacy", "attack", "attacks", "malicious", "safety"),
    "cs.IR": ("retrieval", "recommendation", "recommender", "search engine", "rag"),
    "cs.SE": ("code generation", "software", "program repair", "repository", "coding"),
    "cs.AI": ("agent", "agents", "agentic", "planning", "reasoning", "tool use"),
    "cs.HC": ("user study", "human-computer", "interface", "users"),
    "q-bio.BM": ("protein", "proteins", "molecule", "molecular", "drug"),
    "eess.IV": ("medical", "mri", "ct", "radiology", "clinical"),
    "cs.LG": ("reinforcement learning", "optimization", "training", "neural network",
              "gradient", "learning"),
}  # fmt: skip
_PATTERNS = {
    cat: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b")
    for cat, words in RULES.items()
}


def categories_for(text: str) -> list[str]:
    text = text.lower()
    hits = {cat: len(pattern.findall(text)) for cat, pattern in _PATTERNS.items()}
    order = list(RULES)
    ranked = sorted((c for c in hits if hits[c]), key=lambda c: (-hits[c], order.index(c)))
    return ranked[:MAX_CATEGORIES] or ["cs.LG"]


def entry(item: dict[str, object]) -> str:
    paper = item["paper"]
    assert isinstance(paper, dict)
    keywords = " ".join(str(k) for k in paper.get("ai_keywords") or [])
    text = f"{paper['title']} {paper['title']} {paper.get('summary', '')} {keywords}"
    cats = categories_for(text)
    terms = "".join(
        f'<category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>' for c in cats
    )
    return (
        f"\n  <entry>\n    <id>http://arxiv.org/abs/{paper['id']}v1</id>\n"
        f"    <title>{escape(' '.join(str(paper['title']).split()))}</title>\n"
        f"    <published>{paper.get('publishedAt', '')}</published>\n"
        f"    {terms}\n    <arxiv:primary_category term={quoteattr(cats[0])}/>\n  </entry>"
    )


def answer(day: str, items: list[dict[str, object]]) -> str:
    ids = ",".join(str(i["paper"]["id"]) for i in items)  # type: ignore[index]
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        f"  <!-- Paper Digest demo data for {day}: NOT a recorded answer. Categories are "
        "assigned by scripts/sample_arxiv_answers.py from keywords, for the offline demo. -->\n"
        f"  <id>https://arxiv.org/api/sample-{day}</id>\n"
        f"  <title>arXiv Query: search_query=&amp;id_list={ids}&amp;start=0&amp;max_results={len(items)}</title>\n"
        f'  <link href="https://arxiv.org/api/query?id_list={ids}" type="application/atom+xml"/>\n'
        f"  <opensearch:totalResults>{len(items)}</opensearch:totalResults>"
        + "".join(entry(item) for item in items)
        + "\n</feed>\n"
    )


def main() -> None:
    TARGET.mkdir(exist_ok=True)
    for path in sorted(SOURCE.glob("*.json")):
        items = json.loads(path.read_text(encoding="utf-8"))
        for start in range(0, len(items), 100):
            suffix = f"-{start // 100}" if len(items) > 100 else ""
            out = TARGET / f"{path.stem}{suffix}.xml"
            out.write_text(answer(path.stem, items[start : start + 100]), encoding="utf-8")
    print(f"wrote {len(list(TARGET.glob('*.xml')))} files to {TARGET}")


if __name__ == "__main__":
    main()
