from __future__ import annotations

import json

import pytest

from digest.ranking import Candidate
from digest.ranking import semantic as ranking_semantic


def paper(arxiv_id: str, title: str, abstract: str = "", **fields: object) -> Candidate:
    return Candidate(arxiv_id=arxiv_id, title=title, abstract=abstract, **fields)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_semantic_state():
    # The encoder and its cache are process-wide: start and end every test without them.
    ranking_semantic.use_encoder(None)
    yield
    ranking_semantic.use_encoder(None)


@pytest.fixture
def day() -> list[Candidate]:
    """A small day of papers on distinct topics, with distinct upvotes."""
    return [
        paper("2607.00001", "Retrieval-Augmented Generations for open-domain QA",
              "We improve retrieval augmented generation with a learned reranker.", upvotes=12),
        paper("2607.00002", "Video diffusion models at scale",
              "A latent diffusion model generates long videos from text prompts.", upvotes=212),
        paper("2607.00003", "Sparse mixture of experts for speech recognition",
              "We route audio frames to experts and cut inference cost.", upvotes=40),
        paper("2607.00004", "Generation of retrieval graphs",
              "Our generation method is augmented by graph retrieval and pruning.", upvotes=5),
        paper("2607.00005", "Policy optimisation for robot grasping",
              "Reinforcement learning with dense rewards teaches a robot arm to grasp.", upvotes=30),
        paper("2607.00006", "Protein folding with geometric transformers",
              "Equivariant attention predicts protein structure from sequence.", upvotes=3),
    ]  # fmt: skip


@pytest.fixture
def real_papers(fixtures_dir) -> list[Candidate]:
    """42 real Hugging Face daily papers (2026-06/08) from tests/fixtures/ranking."""
    lines = (fixtures_dir / "ranking" / "papers.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    return [
        Candidate(
            arxiv_id=r["arxiv_id"],
            title=r["title"],
            abstract=r["abstract"],
            authors=tuple(r["authors"]),
            ai_keywords=tuple(r["ai_keywords"]),
            upvotes=r["upvotes"],
        )
        for r in rows
    ]
