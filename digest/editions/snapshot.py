"""An edition's papers snapshot: what the email shows of each paper, frozen at planning.

DigestRun.papers keeps these dicts, so the admin can re-render exactly the email a
reader got, whatever happens to the catalogue afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from digest.catalogue.tldr import paper_tldr
from digest.sources import public_paper_url

AUTHORS_SHOWN = 3


def paper_snapshot(paper: Any) -> dict[str, Any]:
    """What the email shows of a paper, frozen into DigestRun.papers at build time."""
    # The TL;DR: the AI summary, else the abstract's first sentence (issue #13).
    summary = paper_tldr(ai_summary=paper.ai_summary, abstract=paper.abstract)
    return {
        "title": " ".join(paper.title.split()),
        "url": public_paper_url(paper.arxiv_id, paper.sources or []) or paper.arxiv_url,
        "authors": shorten_authors(paper.authors or []),
        "organization": paper.organization,
        "upvotes": paper.upvotes,
        "summary": summary,
        "arxiv_url": paper.arxiv_url,
        "pdf_url": paper.pdf_url,
        "code_url": paper.github_repo,
        "stars": paper.github_stars,
        "project_url": paper.project_page,
        "thumbnail_url": paper.thumbnail_url,
    }


def shorten_authors(authors: Sequence[str]) -> str:
    if len(authors) <= AUTHORS_SHOWN:
        return ", ".join(authors)
    return ", ".join(authors[:AUTHORS_SHOWN]) + " et al."
