"""Preview the personal ranking for an ad-hoc profile over papers given as JSON lines."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from digest.ranking import Candidate, Profile, parse_interests, rank_for_all
from digest.ranking.inputs import reference_candidates


class Command(BaseCommand):
    help = (
        "Rank papers (JSON lines with arxiv_id, title, abstract and optional upvotes, "
        "authors, categories, ai_keywords) for one profile; print scores and reasons."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--papers", required=True, type=Path, help="JSON lines file")
        parser.add_argument("--interests", default="", help='e.g. "diffusion, video generation"')
        parser.add_argument("--liked", nargs="*", default=[], metavar="ARXIV_ID")
        parser.add_argument("--disliked", nargs="*", default=[], metavar="ARXIV_ID")
        parser.add_argument("--categories", nargs="*", default=[], metavar="CATEGORY")
        parser.add_argument("--authors", nargs="*", default=[], metavar="NAME", help="followed")
        parser.add_argument("--top", type=int, default=10, metavar="K")
        parser.add_argument("--json", action="store_true", help="print a JSON array instead")

    def handle(self, *args: Any, **options: Any) -> None:
        papers = _read_papers(options["papers"])
        profile = Profile(
            key="preview",
            interests=parse_interests(options["interests"]),
            categories=tuple(options["categories"]),
            liked=tuple(options["liked"]),
            disliked=tuple(options["disliked"]),
            authors=tuple(options["authors"]),
            k=options["top"],
        )
        reference = self._reference(papers, [*profile.liked, *profile.disliked])
        picks = rank_for_all(papers, [profile], reference=reference)[0]
        # The ranker keeps the first copy of a paper listed twice: so does the title.
        titles: dict[str, str] = {}
        for p in papers:
            titles.setdefault(p.arxiv_id, p.title)
        twice = sorted(a for a, n in Counter(p.arxiv_id for p in papers).items() if n > 1)
        if twice:
            self.stderr.write(f"Listed more than once, the first line kept: {', '.join(twice)}")
        if options["json"]:
            rows = [
                {"arxiv_id": p.arxiv_id, "title": titles[p.arxiv_id], "score": p.score,
                 "reason": p.reason, "reasons": list(p.reasons)}
                for p in picks
            ]  # fmt: skip
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for rank, pick in enumerate(picks, 1):
            self.stdout.write(
                f"{rank:>2}. {pick.score:6.3f}  {pick.arxiv_id}  {titles[pick.arxiv_id]}"
            )
            self.stdout.write(f"              {pick.reason}")

    def _reference(self, papers: list[Candidate], wanted: list[str]) -> list[Candidate]:
        """Liked/disliked papers missing from the file come from the catalogue, if any."""
        in_file = {p.arxiv_id for p in papers}
        missing = [a for a in wanted if a not in in_file]
        if not missing:
            return []
        try:
            found = reference_candidates(missing, today=timezone.localdate())
        except DatabaseError:  # no database (or not migrated): the file is all we have
            found = []
        unknown = sorted(set(missing) - {c.arxiv_id for c in found})
        if unknown:
            self.stderr.write(f"Not in the file nor the catalogue, ignored: {', '.join(unknown)}")
        return found


def _read_papers(path: Path) -> list[Candidate]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    papers = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            papers.append(_candidate(json.loads(line)))
        except KeyError as exc:
            raise CommandError(f"{path}:{number}: not a paper (no {exc})") from exc
        except (ValueError, TypeError, OverflowError) as exc:
            raise CommandError(f"{path}:{number}: not a paper ({exc})") from exc
    if not papers:
        raise CommandError(f"{path}: no papers")
    return papers


def _candidate(row: dict[str, Any]) -> Candidate:
    if not isinstance(row, dict):
        raise TypeError(f"a JSON object is expected, not {type(row).__name__}")
    upvotes = int(row.get("upvotes") or 0)
    if not -(2**62) < upvotes < 2**62:
        raise ValueError(f"upvotes out of range: {upvotes}")
    return Candidate(
        arxiv_id=_text(row, "arxiv_id"),
        title=_text(row, "title"),
        abstract=str(row.get("abstract") or ""),
        authors=_strings(row, "authors"),
        ai_keywords=_strings(row, "ai_keywords"),
        categories=_strings(row, "categories"),
        upvotes=upvotes,
        age_days=float(row.get("age_days") or 0.0),
    )


def _text(row: dict[str, Any], field: str) -> str:
    value = row[field]
    if value is None or not str(value).strip():
        raise KeyError(field)
    return str(value)


def _strings(row: dict[str, Any], field: str) -> tuple[str, ...]:
    """A list of strings; a lone string is one item (not one item per character)."""
    value = row.get(field)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise TypeError(f"{field} must be a list of strings, not {type(value).__name__}")
    return tuple(str(item) for item in value)
