"""Build and send one date's editions to everyone due that date, whatever their hour.

For catch-up, support and tests. Re-running it sends nothing twice (one delivery per
subscriber and edition, claimed before sending). Sends inline by default, in this
process; --queue hands the chunks to the Celery workers instead (the beat path always
queues). With DIGEST_REQUIRE_APPROVAL on, the runs stop at "awaiting review".
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from digest.catalogue import latest_trending_day
from digest.models import DigestRun
from digest.sending import digest_send_day

_COUNTS = ("planned_count", "sent_count", "failed_count")


class Command(BaseCommand):
    help = "Build and send the digests due on a date (default: the latest trending day)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", help="YYYY-MM-DD; default: the latest trending day")
        parser.add_argument(
            "--queue", action="store_true", help="queue the chunks for Celery workers"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        day = self._day(options["date"])
        # The edition's counts are totals over every call; what this call did is the
        # difference from before it.
        before = {
            row[0]: row[1:]
            for row in DigestRun.objects.filter(edition_date=day).values_list("pk", *_COUNTS)
        }
        for frequency, run in digest_send_day(day=day, inline=not options["queue"]):
            if run is None:
                self.stdout.write(f"{frequency} {day}: nobody due or no papers")
                continue
            planned, sent, failed = (
                getattr(run, name) - was
                for name, was in zip(_COUNTS, before.get(run.pk, (0, 0, 0)), strict=True)
            )
            now = "queued" if options["queue"] else "sent"
            self.stdout.write(
                f"{frequency} {day}: this call planned {planned}, {now} "
                f"{sent if not options['queue'] else planned}, failed {failed}. "
                f"Edition so far: {run.status}, planned {run.planned_count}, "
                f"sent {run.sent_count}, failed {run.failed_count}, "
                f"skipped {run.skipped_count} (run {run.pk})"
            )

    def _day(self, value: str | None) -> date:
        if value:
            try:
                return date.fromisoformat(value)
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}") from exc
        return latest_trending_day() or timezone.localdate()
