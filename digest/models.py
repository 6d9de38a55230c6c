from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from subscriptions.models import Frequency, Subscriber


class Paper(models.Model):
    """One arXiv paper, whichever sources saw it (merged by digest/catalogue.py)."""

    arxiv_id = models.CharField(max_length=32, unique=True)
    title = models.TextField()
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    organization = models.CharField(max_length=200, blank=True)
    categories = models.JSONField(default=list, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    upvotes = models.IntegerField(default=0)
    num_comments = models.IntegerField(default=0)
    github_repo = models.URLField(max_length=500, blank=True)
    github_stars = models.IntegerField(null=True, blank=True)
    project_page = models.URLField(max_length=500, blank=True)
    thumbnail_url = models.URLField(max_length=500, blank=True)
    ai_summary = models.TextField(blank=True)
    ai_keywords = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True, help_text="Sources that saw it.")
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-upvotes", "arxiv_id"]

    def __str__(self) -> str:
        return f"{self.arxiv_id}: {self.title[:80]}"

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def hf_url(self) -> str:
        return f"https://huggingface.co/papers/{self.arxiv_id}"


class PaperEmbedding(models.Model):
    """A paper's embedding under one model, computed once and kept (digest/ranking/semantic.py).

    Keyed by arXiv id, not the Paper row: a liked paper's vector is read with the day's
    papers by id, and the vector is the same whoever stored it.
    """

    arxiv_id = models.CharField(max_length=32)
    model = models.CharField(max_length=64)
    vector = models.BinaryField(help_text="float32 values, little-endian.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "arxiv_id"], name="paper_embedding_unique")
        ]

    def __str__(self) -> str:
        return f"{self.arxiv_id} ({self.model})"


class PaperTrend(models.Model):
    """A paper trending on one day in one source: "today's papers" is a query on this."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="trends")
    day = models.DateField(db_index=True)
    source = models.CharField(max_length=32)
    rank = models.PositiveIntegerField(null=True, blank=True)
    upvotes = models.IntegerField(default=0, help_text="Upvotes when fetched.")
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["day", "source", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["paper", "day", "source"], name="one_trend_per_source_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.paper_id} on {self.day} ({self.source})"


class FetchRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=32)
    day = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    new_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    error_text = models.TextField(blank=True)
    skipped = models.JSONField(default=list, blank=True, help_text="[{reason, identifier}]")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.source} {self.day}: {self.status}"


class DigestRun(models.Model):
    """One edition: a day's daily digest, or a week's weekly digest."""

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        AWAITING_REVIEW = "awaiting_review", "Awaiting review"
        APPROVED = "approved", "Approved"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused (error rate)"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    Frequency = Frequency
    # Runs whose planned deliveries may be claimed.
    SENDABLE_STATUSES: ClassVar[tuple[str, ...]] = (Status.APPROVED, Status.SENDING)
    # Runs that still accept new readers for the edition.
    OPEN_STATUSES: ClassVar[tuple[str, ...]] = (
        Status.BUILDING,
        Status.AWAITING_REVIEW,
        Status.APPROVED,
        Status.SENDING,
        Status.PAUSED,
        Status.DONE,
    )

    edition_date = models.DateField()
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default="daily")
    week = models.CharField(max_length=10, blank=True, help_text='ISO week, e.g. "2026-W47".')
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    planned_count = models.PositiveIntegerField(default=0)
    rendered_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    delivered_count = models.PositiveIntegerField(default=0)
    bounced_count = models.PositiveIntegerField(default=0)
    complained_count = models.PositiveIntegerField(default=0)
    opened_count = models.PositiveIntegerField(default=0)
    clicked_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    # Snapshot of the edition's papers as they were rendered ({arxiv_id: fields}), so
    # the admin can always re-render exactly what a subscriber got.
    papers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    built_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=150, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    # Set by the retention job once its deliveries' picks are cut down to their arXiv
    # ids (scores and reasons dropped): see digest/editions/retention.py.
    details_dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-edition_date", "frequency"]
        constraints = [
            models.UniqueConstraint(
                fields=["edition_date", "frequency"], name="one_run_per_edition"
            )
        ]

    def __str__(self) -> str:
        return f"{self.frequency} digest {self.week or self.edition_date}"


class Delivery(models.Model):
    """One email of one edition to one subscriber; unique, so it can only go out once."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"
        # Never sent: the subscriber left or was suppressed before the claim.
        SKIPPED = "skipped", "Skipped"

    # Every status that means the message left us.
    LEFT_STATUSES: ClassVar[tuple[str, ...]] = (
        Status.SENT,
        Status.DELIVERED,
        Status.OPENED,
        Status.CLICKED,
        Status.BOUNCED,
        Status.COMPLAINED,
    )

    # Indexes are in Meta: every claim and every "sent" rewrites the row and all of
    # them, so there is no index that another one already covers (run: the (run, status)
    # index and the unique (run, subscriber)), and no LIKE (varchar_pattern_ops) twins.
    run = models.ForeignKey(
        DigestRun, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    subscriber = models.ForeignKey(Subscriber, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    # Snapshot of what was picked: [{arxiv_id, score, reason}], best first; the papers'
    # fields as rendered are in run.papers.
    picks = models.JSONField(default=list, blank=True)
    # Fixed before sending (Message-ID header), so a sweeper, an ESP event or the admin
    # can tell whether a message left after a worker died mid-send.
    message_id = models.CharField(max_length=255, blank=True)
    esp_message_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    needs_reconciliation = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["run", "subscriber"], name="one_delivery_per_edition")
        ]
        indexes = [
            models.Index(fields=["run", "status"]),
            models.Index(fields=["status"], name="delivery_status"),  # sweeper, admin filter
            # Webhooks look a delivery up by its ids, which are set when it is sent: the
            # rows planned without them are left out (a planned edition's 1M rows would
            # all be one key, a quarter of the database's work of writing them).
            models.Index(
                fields=["message_id"], name="delivery_message_id_set", condition=~Q(message_id="")
            ),
            models.Index(
                fields=["esp_message_id"],
                name="delivery_esp_message_id_set",
                condition=~Q(esp_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"


class TrackingEvent(models.Model):
    """An ESP webhook event, stored once per event_id (ESPs retry webhooks)."""

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=32)
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    recipient = models.CharField(max_length=254, blank=True)
    esp_event = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class EditionPlan(models.Model):
    """One planning pass of an edition (a beat tick's readers, or ``send_digests
    --queue``'s): the ranker's per-day work done once, stored for the pass's shards."""

    run = models.ForeignKey(DigestRun, on_delete=models.CASCADE, related_name="plans")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The pickled digest.ranking.Ranker of the pass (written and read only by
    # digest/editions/shards.py); emptied once every shard is planned.
    ranker = models.BinaryField(null=True, blank=True, editable=False)
    # Keys the workers' in-memory copies of the ranker (ids can be reused, on SQLite).
    token = models.UUIDField(default=uuid.uuid4, editable=False)
    shard_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Plan {self.pk} of run {self.run_id}"


class PlanShard(models.Model):
    """An id range of a plan's readers, planned (ranked, deliveries written) by one task.

    Planned in one transaction that holds this row's lock and marks it done, so a
    duplicated task skips it and a dead worker's attempt leaves it to be queued again.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"

    plan = models.ForeignKey(EditionPlan, on_delete=models.CASCADE, related_name="shards")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    subscriber_ids = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    requeued = models.PositiveSmallIntegerField(default=0)
    planned_count = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # By the column, not the plan: no join (a join would lock the plan row as well
        # in the shards' SELECT .. FOR UPDATE).
        ordering = ["plan_id", "first_id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "first_id"], name="one_shard_per_range")
        ]
        indexes = [models.Index(fields=["status"], name="plan_shard_status")]

    def __str__(self) -> str:
        return f"Shard {self.first_id}-{self.last_id} of plan {self.plan_id}"
