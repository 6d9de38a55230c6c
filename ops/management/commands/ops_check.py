"""Health checks for processes that serve no HTTP (compose healthchecks): exit 0 or 1.

manage.py ops_check beat     # beat queued the heartbeat task lately
manage.py ops_check worker   # a worker ran it lately
manage.py ops_check ready    # what /readyz checks: database, cache, broker
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops import health


class Command(BaseCommand):
    help = "Exit 0 when beat, a worker or the dependencies are alive, 1 otherwise."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["beat", "worker", "ready"])

    def handle(self, *args: Any, what: str, **options: Any) -> None:
        if what == "ready":
            body = health.readiness()
            self.stdout.write(json.dumps(body))
            if body["failed"]:
                raise CommandError(f"not ready: {', '.join(body['failed'])}")
            return
        at = health.heartbeat_at(what)
        age = health.age_seconds(at)
        if not health.is_alive(at):
            raise CommandError(f"{what}: no heartbeat for {age}s" if at else f"{what}: never seen")
        self.stdout.write(f"{what}: alive, last heartbeat {age}s ago")
