from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

# Real Hugging Face daily papers (2026-06/08), trimmed to the fields the command reads.
PAPERS = "ranking/papers.jsonl"


def _rank(fixtures_dir, *args: str) -> list[dict]:
    out = StringIO()
    call_command("rank_papers", "--papers", str(fixtures_dir / PAPERS), "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def _lines(fixtures_dir) -> list[dict]:
    return [json.loads(x) for x in (fixtures_dir / PAPERS).read_text().splitlines()]


@pytest.mark.django_db
def test_it_ranks_the_most_upvoted_first_for_an_empty_profile(fixtures_dir):
    rows = _rank(fixtures_dir)
    by_votes = sorted(_lines(fixtures_dir), key=lambda r: -r["upvotes"])
    assert len(rows) == 10
    assert rows[0]["arxiv_id"] == by_votes[0]["arxiv_id"]
    assert rows[0]["reason"] == f"trending: {by_votes[0]['upvotes']} upvotes"
    assert set(rows[0]) >= {"arxiv_id", "score", "reason", "reasons", "title"}
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


@pytest.mark.django_db
def test_it_ranks_papers_matching_the_interests_first(fixtures_dir):
    rows = _rank(fixtures_dir, "--interests", "Retrieval Augmented Generations", "--top", "3")
    assert len(rows) == 3
    for row in rows:
        assert row["reason"].startswith("matches 'Retrieval Augmented Generations'")
        assert (
            "retrieval-augmented generation"
            in (row["title"] + " " + _abstract(fixtures_dir, row)).lower()
        )


def _abstract(fixtures_dir, row: dict) -> str:
    line = next(x for x in _lines(fixtures_dir) if x["arxiv_id"] == row["arxiv_id"])
    return line["abstract"] + " " + " ".join(line["ai_keywords"])


@pytest.mark.django_db
def test_it_uses_liked_papers_from_the_file_and_leaves_them_out(fixtures_dir):
    liked = "2606.31315"  # BlockPilot: diffusion-based speculative decoding
    rows = _rank(fixtures_dir, "--liked", liked, "--top", "3")
    assert liked not in [r["arxiv_id"] for r in rows]
    assert rows[0]["arxiv_id"] == "2607.05147"  # DSpark: speculative decoding
    assert "similar to 'BlockPilot" in rows[0]["reason"]


@pytest.mark.django_db
def test_it_looks_liked_papers_up_in_the_catalogue(fixtures_dir, paper_factory):
    paper_factory(
        arxiv_id="2501.00001",
        title="Gaussian splatting on phones",
        abstract="Real-time 3D Gaussian splatting with spherical harmonics on mobile devices.",
    )
    rows = _rank(fixtures_dir, "--liked", "2501.00001", "--top", "1")
    assert rows[0]["arxiv_id"] == "2606.30017"  # Monte Carlo ... Mobile 3D Gaussian Splatting


@pytest.mark.django_db
def test_it_pushes_down_papers_like_a_disliked_one(fixtures_dir):
    top = _rank(fixtures_dir, "--top", "1")[0]["arxiv_id"]
    rows = _rank(fixtures_dir, "--disliked", top, "--top", "42")
    assert top not in [r["arxiv_id"] for r in rows]


@pytest.mark.django_db
def test_it_prints_a_readable_list_without_json(fixtures_dir):
    out = StringIO()
    call_command(
        "rank_papers", "--papers", str(fixtures_dir / PAPERS), "--interests", "speculative decoding",
        "--top", "2", "--categories", "cs.CL", stdout=out,
    )  # fmt: skip
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(" 1. ") and "Speculative Decoding" in lines[0]
    assert lines[1].strip().startswith("matches 'speculative decoding'")
    assert len(lines) == 4


@pytest.mark.django_db
def test_it_warns_about_liked_ids_it_cannot_find(fixtures_dir):
    err = StringIO()
    out = StringIO()
    call_command(
        "rank_papers", "--papers", str(fixtures_dir / PAPERS), "--liked", "0000.00000",
        "--json", stdout=out, stderr=err,
    )  # fmt: skip
    assert "0000.00000" in err.getvalue()
    assert len(json.loads(out.getvalue())) == 10


def test_it_rejects_a_file_that_is_not_papers(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "no id"}\n')
    with pytest.raises(CommandError, match=r"bad\.jsonl:1"):
        call_command("rank_papers", "--papers", str(bad))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"arxiv_id": "a", "title": "ok"}\n{"arxiv_id": "b", "title": \n', r"bad\.jsonl:2"),
        (b"[1, 2]\n", r"bad\.jsonl:1: not a paper \(a JSON object is expected"),
        (b'{"arxiv_id": null, "title": "t"}\n', r"bad\.jsonl:1: not a paper \(no 'arxiv_id'\)"),
        (b'{"arxiv_id": "a", "title": "t", "upvotes": 1e400}\n', r"bad\.jsonl:1"),
        (b'{"arxiv_id": "a", "title": "t", "upvotes": 100000000000000000000}\n', "upvotes"),
        (b'{"arxiv_id": "a", "title": "t", "authors": {"x": 1}}\n', "authors must be a list"),
        (b'\xff\xfe{"arxiv_id": "a"}\n', r"cannot read .*bad\.jsonl"),
        (b"\n\n", r"bad\.jsonl: no papers"),
    ],
)
def test_it_names_the_problem_of_a_bad_file_without_a_traceback(tmp_path, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("rank_papers", "--papers", str(bad), stdout=StringIO())


def test_it_says_so_when_the_file_is_missing(tmp_path):
    with pytest.raises(CommandError, match=r"cannot read .*missing\.jsonl"):
        call_command("rank_papers", "--papers", str(tmp_path / "missing.jsonl"))


def test_it_reads_a_lone_string_as_one_author_or_category(tmp_path):
    papers = tmp_path / "papers.jsonl"
    papers.write_text(
        '{"arxiv_id": "a", "title": "Quiet note", "authors": "Grace Hopper", "categories": "cs.CL"}\n'
        '{"arxiv_id": "b", "title": "Popular paper", "upvotes": 50}\n'
    )
    out = StringIO()
    call_command(
        "rank_papers", "--papers", str(papers), "--authors", "grace hopper", "--categories",
        "cs.CL", "--top", "1", "--json", stdout=out,
    )  # fmt: skip
    (row,) = json.loads(out.getvalue())
    assert row["arxiv_id"] == "a"
    assert row["reasons"] == ["by Grace Hopper, whom you follow", "in cs.CL"]


def test_it_keeps_the_first_line_of_a_paper_listed_twice_and_says_so(tmp_path):
    papers = tmp_path / "papers.jsonl"
    papers.write_text(
        '{"arxiv_id": "a", "title": "First copy", "upvotes": 5}\n'
        '{"arxiv_id": "a", "title": "Second copy"}\n'
    )
    out, err = StringIO(), StringIO()
    call_command("rank_papers", "--papers", str(papers), "--json", stdout=out, stderr=err)
    (row,) = json.loads(out.getvalue())
    assert (row["title"], row["reason"]) == ("First copy", "trending: 5 upvotes")
    assert "a" in err.getvalue()
