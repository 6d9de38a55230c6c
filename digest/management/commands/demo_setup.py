"""First-run setup for a newcomer: sample papers, a demo admin, a demo subscriber and
their first digest in the outbox. Safe to run again: it only fills what is missing."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from digest.catalogue import latest_trending_day
from digest.catalogue.selectors import paper_list_for_days
from digest.models import Paper
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber

DEMO_ADMIN = "admin"
DEMO_EMAIL = "demo@example.com"
DEMO_INTERESTS = "large language models, reasoning, diffusion models, agents, video generation"
# The demo reader liked this many of the week's earlier papers at signup, so the demo
# digest shows what likes do (the liked and taste signals and their reasons).
DEMO_LIKES = 3


class Command(BaseCommand):
    help = "Load the shipped sample papers and create a demo admin and subscriber."

    def handle(self, *args: Any, **options: Any) -> None:
        if not Paper.objects.exists():
            self.stdout.write("Loading the shipped sample papers (offline)...")
            call_command(
                "fetch_papers", "--file", str(settings.DIGEST_SAMPLE_DIR / "hf_daily_papers")
            )
            # The lookup step, replayed offline: arXiv API answers for the sample papers.
            call_command("fetch_papers", "--file", str(settings.DIGEST_SAMPLE_DIR / "arxiv_api"))
        password = self._ensure_admin()
        subscriber = self._ensure_subscriber()
        day = latest_trending_day()
        if day is None:
            self.stderr.write("No trending papers found; the demo digest was not sent.")
            return
        call_command("send_digests", "--date", day.isoformat())
        self._print_summary(password=password, subscriber=subscriber, day=day.isoformat())

    def _ensure_admin(self) -> str:
        # The password is generated once and kept under var/ so re-runs can print it.
        secret_file = settings.VAR_DIR / "demo-admin-password"
        if not secret_file.exists():
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(secrets.token_urlsafe(12))
        password = secret_file.read_text().strip()
        user_model = get_user_model()
        if not user_model.objects.filter(username=DEMO_ADMIN).exists():
            user_model.objects.create_superuser(DEMO_ADMIN, "admin@example.com", password)
        return password

    @transaction.atomic
    def _ensure_subscriber(self) -> Subscriber:
        subscriber, created = Subscriber.objects.get_or_create(
            email=DEMO_EMAIL,
            defaults={
                "status": Subscriber.Status.ACTIVE,
                "interests": DEMO_INTERESTS,
                "categories": ["cs.CL", "cs.CV", "cs.LG"],
                "confirmed_at": timezone.now(),
            },
        )
        if created:
            ConsentRecord.objects.create(
                subscriber=subscriber,
                consent_text_version=settings.DIGEST_CONSENT_TEXT_VERSION,
                confirmed_at=subscriber.confirmed_at,
                signup_user_agent="demo_setup",
            )
            PaperFeedback.objects.bulk_create(
                PaperFeedback(
                    subscriber=subscriber,
                    arxiv_id=arxiv_id,
                    kind=PaperFeedback.Kind.LIKE,
                    origin=PaperFeedback.Origin.SIGNUP,
                )
                for arxiv_id in self._demo_likes()
            )
        return subscriber

    def _demo_likes(self) -> list[str]:
        """The most upvoted papers of the week before the latest day, matching an interest."""
        day = latest_trending_day()
        if day is None:
            return []
        papers = paper_list_for_days(first=day - timedelta(days=7), last=day - timedelta(days=1))
        words = ("agent", "reasoning")
        matching = [p for p in papers if any(w in p.title.lower() for w in words)]
        matching.sort(key=lambda p: -p.upvotes)
        return [p.arxiv_id for p in matching[:DEMO_LIKES]]

    def _print_summary(self, *, password: str, subscriber: Subscriber, day: str) -> None:
        outbox = Path(settings.EMAIL_FILE_PATH)
        emails = sorted(outbox.glob(f"*{subscriber.email}*.eml"))
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Paper Digest is ready."))
        self.stdout.write(f"  Site:        {settings.SITE_URL}/")
        self.stdout.write(
            f"  Admin:       {settings.SITE_URL}/admin/  user {DEMO_ADMIN!r}, password {password!r}"
        )
        self.stdout.write(f"  Demo reader: {subscriber.email} (digest of {day})")
        if emails:
            self.stdout.write(f"  Their email: {emails[-1].resolve()}")
        else:
            self.stdout.write(
                f"  Outbox:      {outbox.resolve()} (EMAIL_BACKEND is not the outbox)"
            )
        self.stdout.write("")
