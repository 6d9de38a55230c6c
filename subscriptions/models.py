from __future__ import annotations

from django.db import models
from django.db.models.functions import Upper
from django.utils.timezone import now

DIGEST_SIZES = (5, 10, 20)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Frequency(models.TextChoices):
    """How often a reader gets a digest; also the kind of an edition (DigestRun)."""

    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class SubscriberQuerySet(models.QuerySet["Subscriber"]):
    def sendable(self) -> SubscriberQuerySet:
        """Readers who may be sent a digest: confirmed, not unsubscribed, not erased.

        The one definition of "sendable"; the send claim's SQL (digest/sending/claims.py)
        spells the same condition out for its prepared statement.
        """
        return self.filter(status=Subscriber.Status.ACTIVE, deleted_at__isnull=True)


class Subscriber(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending confirmation"
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    Frequency = Frequency

    email = models.EmailField(max_length=254, unique=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    interests = models.TextField(blank=True, help_text="Free-text keywords and phrases.")
    categories = models.JSONField(default=list, blank=True, help_text="arXiv categories.")
    followed_authors = models.JSONField(default=list, blank=True)
    digest_size = models.PositiveSmallIntegerField(
        default=10, choices=[(n, str(n)) for n in DIGEST_SIZES]
    )
    frequency = models.CharField(max_length=8, choices=Frequency, default="daily")
    weekday = models.PositiveSmallIntegerField(
        default=0, choices=list(enumerate(WEEKDAYS)), help_text="For weekly digests."
    )
    send_hour = models.PositiveSmallIntegerField(default=7, help_text="Local hour, 0-23.")
    timezone = models.CharField(max_length=64, default="UTC")
    paused_until = models.DateField(null=True, blank=True)
    # Bumping this revokes every link sent before (manage, unsubscribe, feedback).
    token_version = models.PositiveIntegerField(default=1)
    soft_bounce_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # Set when the subscriber erased themselves; the row stays, anonymised, so the
    # send history keeps its foreign keys.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Signup and manage-link lookups are case-insensitive (email__iexact, which
            # PostgreSQL runs as UPPER(email) = UPPER(%s)): without this index they scan
            # every reader. Not unique: local parts may differ only in case.
            models.Index(Upper("email"), name="subscriber_email_upper"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def consent(self) -> ConsentRecord | None:
        """The current consent: the latest one. Earlier ones stay in ``consents``."""
        return self.consents.order_by("-pk").first()


class ConsentRecord(models.Model):
    """One consent: what the subscriber agreed to, when and from where (GDPR art. 7(1)
    evidence), and when and how it ended.

    A resubscribe is a new consent and gets a new row, so the earlier one keeps its
    unsubscribe time and method. At most one consent per subscriber is open (not ended).
    """

    class UnsubscribeMethod(models.TextChoices):
        ONE_CLICK = "one-click", "One-click header"
        FOOTER_LINK = "footer-link", "Footer link"
        PREFERENCES = "preferences", "Preferences page"
        BOUNCE = "bounce", "Hard bounce"
        COMPLAINT = "complaint", "Spam complaint"
        ADMIN = "admin", "Admin"
        DELETED = "deleted", "Deleted their data"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="consents")
    signup_at = models.DateTimeField(default=now)
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    signup_user_agent = models.CharField(max_length=512, blank=True)
    consent_text_version = models.CharField(max_length=32, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_ip = models.GenericIPAddressField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    unsubscribe_method = models.CharField(
        max_length=16, choices=UnsubscribeMethod.choices, blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber"],
                condition=models.Q(unsubscribed_at__isnull=True),
                name="one_open_consent_per_subscriber",
            )
        ]

    def __str__(self) -> str:
        return f"Consent of {self.subscriber_id}"


class PaperFeedback(models.Model):
    """A paper a subscriber liked or disliked.

    Keyed by arXiv id rather than a foreign key: a subscriber may like a paper we have
    not ingested yet, and it starts counting the day it shows up in the catalogue.
    """

    class Kind(models.TextChoices):
        LIKE = "like", "More like this"
        DISLIKE = "dislike", "Less like this"

    class Origin(models.TextChoices):
        SIGNUP = "signup", "Signup form"
        PREFERENCES = "preferences", "Preferences page"
        EMAIL = "email", "Feedback link in a digest"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="feedback")
    arxiv_id = models.CharField(max_length=32)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.EMAIL)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "arxiv_id"], name="one_feedback_per_paper"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.arxiv_id}"
