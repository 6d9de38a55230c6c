"""Preview a personal ranking: a stored reader's email of a day, or an ad-hoc profile over
papers given as JSON lines.

    manage.py rank_papers --subscriber EMAIL [--date YYYY-MM-DD] [--top K] [--json]
    manage.py rank_papers --papers FILE.jsonl [--interests ...] [--liked ...] [--json]

Both rank with the digests' default ranker (digest.ranking.Ranker, configured weights);
the --subscriber mode reads the reader's profile and feedback, and the day's papers, as
an edition build does (digest/editions/preview.py), so its picks and reasons are the
ones their email of that day has.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from digest.catalogue import latest_trending_day
from digest.editions.preview import rank_one, subscriber_preview
from digest.ranking import Candidate, Pick, Profile, parse_interests
from digest.ranking.inputs import reference_candidates
from subscriptions.models import Subscriber

# Options of the file mode only: a stored reader brings their own.
_PROFILE_OPTIONS = ("interests", "liked", "disliked", "categories", "authors")


class Command(BaseCommand):
    help = (
        "Rank a day's papers for a stored reader (--subscriber), or papers given as JSON "
        "lines (arxiv_id, title, abstract and optional upvotes, authors, categories, "
        "ai_keywords) for one profile (--papers); print scores and reasons."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--papers", type=Path, help="JSON lines file")
        mode.add_argument("--subscriber", metavar="EMAIL", help="a stored reader's address")
        parser.add_argument(
            "--date",
            type=_iso_date,
            help="with --subscriber: the edition's date (default: the latest trending day)",
        )
        parser.add_argument("--interests", default="", help='e.g. "diffusion, video generation"')
        parser.add_argument("--liked", nargs="*", default=[], metavar="ARXIV_ID")
        parser.add_argument("--disliked", nargs="*", default=[], metavar="ARXIV_ID")
        parser.add_argument("--categories", nargs="*", default=[], metavar="CATEGORY")
        parser.add_argument("--authors", nargs="*", default=[], metavar="NAME", help="followed")
        parser.add_argument(
            "--top", type=int, metavar="K", help="default: 10, or the reader's digest size"
        )
        parser.add_argument("--json", action="store_true", help="print a JSON array instead")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subscriber"] is not None:
            self._rank_subscriber(options)
            return
        if options["date"]:
            raise CommandError("--date goes with --subscriber")
        papers = _read_papers(options["papers"])
        profile = Profile(
            key="preview",
            interests=parse_interests(options["interests"]),
            categories=tuple(options["categories"]),
            liked=tuple(options["liked"]),
            disliked=tuple(options["disliked"]),
            authors=tuple(options["authors"]),
            k=10 if options["top"] is None else options["top"],
        )
        reference = self._reference(papers, [*profile.liked, *profile.disliked])
        picks = rank_one(papers, profile, reference=reference)
        # The ranker keeps the first copy of a paper listed twice: so does the title.
        titles: dict[str, str] = {}
        for p in papers:
            titles.setdefault(p.arxiv_id, p.title)
        twice = sorted(a for a, n in Counter(p.arxiv_id for p in papers).items() if n > 1)
        if twice:
            self.stderr.write(f"Listed more than once, the first line kept: {', '.join(twice)}")
        self._print(picks, titles, as_json=options["json"])

    def _rank_subscriber(self, options: dict[str, Any]) -> None:
        given = [f"--{name}" for name in _PROFILE_OPTIONS if options[name]]
        if given:
            raise CommandError(f"{', '.join(given)} go with --papers; --subscriber uses theirs")
        subscriber = _subscriber(options["subscriber"])
        day = options["date"] or latest_trending_day()
        if day is None:
            raise CommandError("the catalogue has no papers yet (manage.py fetch_papers)")
        if options["top"] is not None:
            subscriber.digest_size = options["top"]
        if subscriber.status != Subscriber.Status.ACTIVE:
            self.stderr.write(f"{subscriber.email} is {subscriber.status}: no email goes out")
        preview = subscriber_preview(subscriber=subscriber, day=day)
        if not preview.papers:
            self.stderr.write(f"No papers for the {preview.frequency} edition of {day}.")
        titles = {arxiv_id: paper.title for arxiv_id, paper in preview.papers.items()}
        self._print(preview.picks, titles, as_json=options["json"])

    def _print(self, picks: list[Pick], titles: dict[str, str], *, as_json: bool) -> None:
        if as_json:
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


def _subscriber(email: str) -> Subscriber:
    subscriber = Subscriber.objects.filter(email__iexact=email.strip()).first()
    if subscriber is None or subscriber.deleted_at is not None:
        raise CommandError(f"no subscriber with the address {email!r}")
    return subscriber


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from None


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
