"""Fetch trending papers live, or ingest saved responses (the offline demo and the tests).

    manage.py fetch_papers                                   # today, every enabled source
    manage.py fetch_papers --date 2026-07-01 --source NAME   # NAME: see --help
    manage.py fetch_papers --since 2026-06-29 --until 2026-08-07 --source NAME
    manage.py fetch_papers --file digest/sample_data/hf_daily_papers        # a directory
    manage.py fetch_papers --file saved.json --date 2026-07-01              # one file

Live, each day's sources are followed by the lookup step ("arxiv_api": arXiv categories
of the papers that have none, digest/catalogue/lookup.py); with --source, only the names
given run (``--source hf_api arxiv_api`` for both).

A file's format is detected by the sources themselves (``Source.recognises``, from its
content, else its suffix) unless --source forces one; a saved arXiv API answer is
applied to the catalogue after every other file. Its trending day comes from --date,
else from a YYYY-MM-DD in its name, else from the data itself (else today, for an arXiv
API answer). Bad data never makes the command fail: it is recorded on the FetchRun and
counted in the summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from digest.catalogue import (
    LOOKUP_SOURCE,
    catalogue_apply_lookup,
    catalogue_fetch,
    catalogue_ingest,
    catalogue_lookup_categories,
    catalogue_record_failure,
)
from digest.models import FetchRun, PaperTrend
from digest.sources import (
    SNIFF_BYTES,
    SOURCES,
    arxiv_api,
    enabled_source_names,
    get_source,
    saved_file_suffixes,
    source_for_file,
)
from digest.sources.base import SourceError

_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass
class _Tally:
    days: set[date] = field(default_factory=set)
    runs: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    errors: int = 0
    paper_ids: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)


class Command(BaseCommand):
    help = "Fetch trending papers from the enabled sources, or ingest saved responses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=_iso_date, help="one day (YYYY-MM-DD)")
        parser.add_argument("--since", type=_iso_date, help="first day of a backfill")
        parser.add_argument("--until", type=_iso_date, help="last day (default: today)")
        parser.add_argument(
            "--source",
            dest="sources",
            nargs="+",
            action="extend",
            choices=[*sorted(SOURCES), LOOKUP_SOURCE],
            help=f"only these steps (default: settings.DIGEST_SOURCES, then {LOOKUP_SOURCE})",
        )
        parser.add_argument("--file", type=Path, help="a saved response, or a directory of them")

    def handle(self, *args: Any, **options: Any) -> None:
        since, until = _day_range(options["date"], options["since"], options["until"])
        self.tally = _Tally()
        self.forced_day: date | None = options["date"]
        if options["file"]:
            self._ingest_path(options["file"], options["sources"] or [], since, until)
        else:
            steps = options["sources"] or [*enabled_source_names(), LOOKUP_SOURCE]
            self._fetch_live(steps, since, until)
        self._print_summary()

    # --- live ------------------------------------------------------------------------

    def _fetch_live(self, sources: list[str], since: date | None, until: date | None) -> None:
        first = since or _today()
        last = until or first
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        total = len(days) * len(sources)
        for day in days:
            # The lookup step last: it looks up the papers the sources just brought.
            for source in sorted(sources, key=lambda name: name == LOOKUP_SOURCE):
                if source == LOOKUP_SOURCE:
                    run = catalogue_lookup_categories(day=day)
                else:
                    run = catalogue_fetch(source=source, day=day)
                self._report(run, step=self.tally.runs + 1, total=total)

    # --- saved responses -------------------------------------------------------------

    def _ingest_path(
        self, path: Path, sources: list[str], since: date | None, until: date | None
    ) -> None:
        if len(sources) > 1:
            raise CommandError("with --file, --source takes one name (it forces the format)")
        forced = sources[0] if sources else None
        if path.is_dir():
            files = self._files_in(path, since, until)
        elif path.is_file():
            if since and not self.forced_day:
                raise CommandError("--since/--until need --file to be a directory")
            files = [path]
        else:
            raise CommandError(f"no such file or directory: {path}")
        # Saved arXiv API answers describe papers: after the files that bring them.
        files.sort(key=lambda file: self._is_lookup(file, forced))
        for step, file in enumerate(files, start=1):
            self._ingest_file(file, forced, since, until, step=step, total=len(files))

    def _is_lookup(self, path: Path, forced: str | None) -> bool:
        if forced:
            return forced == LOOKUP_SOURCE
        with path.open("rb") as file:
            return arxiv_api.recognises(_head(file.read(SNIFF_BYTES)))

    def _files_in(self, directory: Path, since: date | None, until: date | None) -> list[Path]:
        suffixes = saved_file_suffixes()
        files = [p for p in directory.iterdir() if p.is_file() and p.suffix in suffixes]
        if not files:
            listed = "/".join(sorted(suffixes))
            raise CommandError(f"no saved responses ({listed}) in {directory}")
        # Files named for a day outside the range are not even read.
        in_range = [p for p in files if _in_range(_name_day(p), since, until, unknown=True)]
        return sorted(in_range, key=lambda p: (_name_day(p) or date.max, p.name))

    def _ingest_file(
        self,
        path: Path,
        forced: str | None,
        since: date | None,
        until: date | None,
        *,
        step: int,
        total: int,
    ) -> None:
        content = path.read_bytes()
        if self._is_lookup(path, forced):
            self._apply_lookup_file(path, content, since, until, step=step, total=total)
            return
        source = forced or source_for_file(content, suffix=path.suffix)
        day = self.forced_day or _name_day(path)
        if source is None:
            self._report_failure(path, "cannot tell its format; pass --source", step, total)
            return
        try:
            result = get_source(source).parse(content, day=day)
        except SourceError as exc:
            if day is None:
                self._report_failure(path, str(exc), step, total)
            else:
                run = catalogue_record_failure(source=source, day=day, error=str(exc))
                self._report(run, step=step, total=total, name=path.name)
            return
        day = day or result.day
        if day is None:
            self._report_failure(path, "no date in its name or data; pass --date", step, total)
        elif _in_range(day, since, until, unknown=False):
            run = catalogue_ingest(source=source, day=day, result=result)
            self._report(run, step=step, total=total, name=path.name)

    def _apply_lookup_file(
        self,
        path: Path,
        content: bytes,
        since: date | None,
        until: date | None,
        *,
        step: int,
        total: int,
    ) -> None:
        day = self.forced_day or _name_day(path) or _today()
        if not _in_range(day, since, until, unknown=False):
            return
        try:
            result = arxiv_api.parse(content)
        except SourceError as exc:
            run = catalogue_record_failure(source=LOOKUP_SOURCE, day=day, error=str(exc))
        else:
            run = catalogue_apply_lookup(day=day, result=result)
        self._report(run, step=step, total=total, name=path.name)

    # --- output ----------------------------------------------------------------------

    def _report(self, run: FetchRun, *, step: int, total: int, name: str = "") -> None:
        tally = self.tally
        tally.days.add(run.day)
        tally.runs += 1
        tally.new += run.new_count
        tally.updated += run.updated_count
        tally.skipped += run.skipped_count
        tally.errors += run.error_count
        tally.paper_ids.update(
            PaperTrend.objects.filter(day=run.day, source=run.source).values_list(
                "paper__arxiv_id", flat=True
            )
        )
        if run.status == FetchRun.Status.FAILED:
            tally.failures.append(f"{run.source} {run.day}: {run.error_text.splitlines()[0]}")
        width = len(str(total))
        line = (
            f"[{step:>{width}}/{total}] {run.day} {run.source:<9} {run.status:<7} "
            f"new={run.new_count} updated={run.updated_count} "
            f"skipped={run.skipped_count} errors={run.error_count}"
        )
        self.stdout.write(f"{line}  {name}".rstrip())

    def _report_failure(self, path: Path, error: str, step: int, total: int) -> None:
        self.tally.failures.append(f"{path.name}: {error}")
        self.stdout.write(f"[{step}/{total}] {path.name}: failed: {error}")

    def _print_summary(self) -> None:
        t = self.tally
        self.stdout.write(
            f"Summary: {len(t.days)} day(s), {t.runs} run(s), {len(t.paper_ids)} paper(s): "
            f"{t.new} new, {t.updated} updated, {t.skipped} skipped, {t.errors} errors"
        )
        if t.failures:
            self.stdout.write(f"Failed ({len(t.failures)}):")
            for failure in t.failures:
                self.stdout.write(f"  {failure}")
        else:
            self.stdout.write("Failed: none")


def _head(content: bytes) -> bytes:
    """A saved file's first bytes as ``recognises`` functions expect them."""
    return content[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()


def _day_range(
    one: date | None, since: date | None, until: date | None
) -> tuple[date | None, date | None]:
    if one and (since or until):
        raise CommandError("use either --date or --since/--until")
    if one:
        return one, one
    if until and not since:
        raise CommandError("--until needs --since")
    if since and until and since > until:
        raise CommandError("--since is after --until")
    if since:
        return since, until or _today()
    return None, None


def _in_range(day: date | None, since: date | None, until: date | None, *, unknown: bool) -> bool:
    if day is None:
        return unknown
    return (since is None or day >= since) and (until is None or day <= until)


def _name_day(path: Path) -> date | None:
    match = _DATE_IN_NAME.search(path.name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a YYYY-MM-DD date: {value!r}") from None


def _today() -> date:
    return datetime.now(UTC).date()
