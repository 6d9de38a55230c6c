"""Everything that changes a subscriber: signup, confirmation, preferences, unsubscribe,
deletion, feedback, and the transactional emails that go with them.

Services take keyword-only arguments and are named <entity>_<action>.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import NOT_PROVIDED, F, Field, Model, Q
from django.utils import timezone

from digest.emails.transactional import make_message
from digest.sources.base import is_valid_arxiv_id
from subscriptions import tokens
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber

logger = logging.getLogger(__name__)

# Fields a subscriber sets on the signup form and the preferences page.
PREFERENCE_FIELDS = (
    "interests",
    "categories",
    "followed_authors",
    "digest_size",
    "frequency",
    "weekday",
    "send_hour",
    "timezone",
    "paused_until",
)
USER_AGENT_MAX = 512
# What a consent record holds; exported to the subscriber and shown in the admin.
CONSENT_FIELDS = (
    "signup_at",
    "signup_ip",
    "signup_user_agent",
    "consent_text_version",
    "confirmed_at",
    "confirmed_ip",
    "unsubscribed_at",
    "unsubscribe_method",
)


def normalise_email(raw: str) -> str:
    """Strip and lower-case the domain (domains are case-insensitive, local parts may not be)."""
    value = raw.strip()
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def subscriber_find(*, email: str) -> Subscriber | None:
    """The reader with this address, whatever its case, if not erased.

    Case-insensitive: "Ada@Example.com" and "ada@example.com" are one reader in practice.
    The condition is what ``email__iexact`` makes of it, so the subscriber_email_upper
    index serves it; written in SQL because building the ORM's query cost signup more
    CPU (about 1 ms) than running it.
    """
    email = normalise_email(email)
    if connection.vendor != "postgresql":  # SQLite's UPPER() is ASCII-only: the ORM's way
        found = Subscriber.objects.filter(email__iexact=email, deleted_at__isnull=True)
        return found.order_by("pk").first()
    table = Subscriber._meta.db_table
    return next(
        iter(
            Subscriber.objects.raw(
                f"SELECT * FROM {table} WHERE UPPER(email::text) = UPPER(%s) "
                "AND deleted_at IS NULL ORDER BY id LIMIT 1",
                [email],
            )
        ),
        None,
    )


def subscriber_signup(
    *, email: str, ip: str | None, user_agent: str, **preferences: Any
) -> Subscriber:
    """Create a pending subscriber and send the confirmation email.

    A known address is neither changed nor revealed: it gets a "manage your subscription"
    email instead, and the caller shows the same page either way.
    """
    email = normalise_email(email)
    existing = subscriber_find(email=email)
    if existing is not None:
        email_send_manage_link(subscriber=existing)
        return existing
    try:
        subscriber = _create_pending(email=email, ip=ip, user_agent=user_agent, **preferences)
    except IntegrityError:  # a concurrent signup with the same address won the race
        existing = subscriber_find(email=email)
        if existing is None:
            raise
        email_send_manage_link(subscriber=existing)
        return existing
    email_send_confirmation(subscriber=subscriber)
    return subscriber


def _create_pending(
    *, email: str, ip: str | None, user_agent: str, liked_papers: Sequence[str] = (), **prefs: Any
) -> Subscriber:
    subscriber = Subscriber(
        email=email, status=Subscriber.Status.PENDING, **_only_preferences(prefs)
    )
    consent = ConsentRecord(
        signup_at=subscriber.created_at,
        signup_ip=ip,
        signup_user_agent=user_agent[:USER_AGENT_MAX],
        consent_text_version=settings.DIGEST_CONSENT_TEXT_VERSION,
    )
    if not liked_papers and connection.vendor == "postgresql":
        # One statement writes both rows, atomically by itself: no BEGIN and COMMIT
        # round trips around it.
        _insert_with_consent(subscriber, consent)
        return subscriber
    with transaction.atomic():
        _insert_with_consent(subscriber, consent)
        _likes_record(subscriber, liked_papers, origin=PaperFeedback.Origin.SIGNUP)
    return subscriber


def _insert_with_consent(subscriber: Subscriber, consent: ConsentRecord) -> None:
    """Save a new subscriber and its consent in one statement (one round trip).

    What ``Subscriber.objects.create()`` then ``ConsentRecord.objects.create()`` write,
    column for column (each field's own conversion, from the model's fields, so a new
    field is written too): the ORM built those two INSERTs in more CPU than the rest of
    a signup's database work. tests/subscriptions/test_services.py compares the rows.
    """
    if connection.vendor != "postgresql":  # data-modifying WITH is PostgreSQL's
        subscriber.save(force_insert=True)
        consent.subscriber = subscriber
        consent.save(force_insert=True)
        return
    sql, subscriber_fields, consent_fields = _insert_with_consent_sql()
    params = [
        *(f.get_db_prep_save(f.pre_save(subscriber, True), connection) for f in subscriber_fields),
        *(f.get_db_prep_save(f.pre_save(consent, True), connection) for f in consent_fields),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        subscriber_id, consent_id = cursor.fetchone()
    for obj, pk in ((subscriber, subscriber_id), (consent, consent_id)):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    consent.subscriber = subscriber


@functools.cache
def _insert_with_consent_sql() -> tuple[str, list[Field[Any, Any]], list[Field[Any, Any]]]:
    qn = connection.ops.quote_name

    def columns(model: type[Model], skip: str = "") -> list[Field[Any, Any]]:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.name != skip]
        if any(f.db_default is not NOT_PROVIDED for f in fields):
            raise NotImplementedError("a database default: use the ORM's insert")
        return fields

    subscriber_fields = columns(Subscriber)
    consent_fields = columns(ConsentRecord, skip="subscriber")
    consent_fk = qn(ConsentRecord._meta.get_field("subscriber").column)
    sql = (
        f"WITH s AS (INSERT INTO {qn(Subscriber._meta.db_table)} "
        f"({', '.join(qn(f.column) for f in subscriber_fields)}) "
        f"VALUES ({', '.join(['%s'] * len(subscriber_fields))}) RETURNING id), "
        f"c AS (INSERT INTO {qn(ConsentRecord._meta.db_table)} "
        f"({consent_fk}, {', '.join(qn(f.column) for f in consent_fields)}) "
        # VALUES, not SELECT: each value takes its column's type, as in the first INSERT.
        f"VALUES ((SELECT id FROM s), {', '.join(['%s'] * len(consent_fields))}) RETURNING id) "
        "SELECT s.id, c.id FROM s, c"
    )
    return sql, subscriber_fields, consent_fields


def _only_preferences(prefs: dict[str, Any]) -> dict[str, Any]:
    unknown = set(prefs) - set(PREFERENCE_FIELDS)
    if unknown:
        raise TypeError(f"unknown preferences: {sorted(unknown)}")
    return prefs


def _consent(subscriber: Subscriber) -> ConsentRecord:
    """The current (latest) consent record."""
    # Subscribers created by the admin or older code may have no record yet.
    return subscriber.consent or ConsentRecord.objects.create(
        subscriber=subscriber, signup_at=subscriber.created_at
    )


def subscriber_confirm(*, subscriber: Subscriber, ip: str | None) -> None:
    now = timezone.now()
    with transaction.atomic():
        subscriber.status = Subscriber.Status.ACTIVE
        subscriber.confirmed_at = now
        subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["status", "confirmed_at", "unsubscribed_at"])
        consent = _consent(subscriber)
        consent.confirmed_at = now
        consent.confirmed_ip = ip
        consent.save(update_fields=["confirmed_at", "confirmed_ip"])


def subscriber_resubscribe(*, subscriber: Subscriber, ip: str | None) -> None:
    """Back on the list from a signed link (proof the mailbox is theirs): a fresh consent.

    It is a new ConsentRecord, given and confirmed now from ``ip``; the ended one keeps
    when and how they left (the audit trail of every consent).
    """
    with transaction.atomic():
        # Two clicks at once must not open two consents: the second waits, then sees
        # the first one's open record.
        Subscriber.objects.select_for_update().filter(pk=subscriber.pk).first()
        current = subscriber.consent
        if current is None or current.unsubscribed_at is not None:
            ConsentRecord.objects.create(
                subscriber=subscriber,
                signup_at=timezone.now(),
                signup_ip=ip,
                consent_text_version=settings.DIGEST_CONSENT_TEXT_VERSION,
            )
        subscriber_confirm(subscriber=subscriber, ip=ip)


def subscriber_unsubscribe(*, subscriber: Subscriber, method: str, ip: str | None = None) -> None:
    """Stop every digest. Idempotent: the first unsubscribe's time and method are kept."""
    if subscriber.status == Subscriber.Status.UNSUBSCRIBED:
        return
    now = timezone.now()
    with transaction.atomic():
        subscriber.status = Subscriber.Status.UNSUBSCRIBED
        subscriber.unsubscribed_at = now
        subscriber.save(update_fields=["status", "unsubscribed_at"])
        consent = _consent(subscriber)
        consent.unsubscribed_at = now
        consent.unsubscribe_method = ConsentRecord.UnsubscribeMethod(method).value
        consent.save(update_fields=["unsubscribed_at", "unsubscribe_method"])
    logger.info("subscriber %s unsubscribed (%s, ip=%s)", subscriber.pk, method, ip)


def subscriber_update_preferences(*, subscriber: Subscriber, **preferences: Any) -> None:
    liked = preferences.pop("liked_papers", [])
    prefs = _only_preferences(preferences)
    with transaction.atomic():
        for field, value in prefs.items():
            setattr(subscriber, field, value)
        subscriber.save(update_fields=list(prefs))
        _likes_record(subscriber, liked, origin=PaperFeedback.Origin.PREFERENCES)


def subscriber_revoke_links(*, subscriber: Subscriber) -> None:
    """Every manage, unsubscribe and feedback link sent so far stops working."""
    Subscriber.objects.filter(pk=subscriber.pk).update(token_version=F("token_version") + 1)
    subscriber.refresh_from_db(fields=["token_version"])


@transaction.atomic
def subscriber_delete(*, subscriber: Subscriber) -> None:
    """Erase personal data; keep the anonymised row so the send history keeps its FKs.

    The address goes from everywhere it was copied to: tracking events, delivery error
    texts (an SMTP 550 quotes it) and the admin's change log. Events that arrive later
    are stored without it (digest/tracking/events.py).
    """
    from digest.models import TrackingEvent  # digest imports subscriptions, not vice versa

    old_email = subscriber.email
    anonymous = f"deleted-{subscriber.pk}@invalid"
    subscriber_unsubscribe(subscriber=subscriber, method=ConsentRecord.UnsubscribeMethod.DELETED)
    subscriber.feedback.all().delete()
    TrackingEvent.objects.filter(
        Q(delivery__subscriber=subscriber) | Q(recipient__iexact=old_email)
    ).update(recipient="", esp_event={})
    ConsentRecord.objects.filter(subscriber=subscriber).update(
        signup_ip=None, signup_user_agent="", confirmed_ip=None
    )
    _erase_from_error_texts(subscriber=subscriber, email=old_email, anonymous=anonymous)
    _erase_from_admin_log(subscriber=subscriber, email=old_email, anonymous=anonymous)
    subscriber.email = anonymous
    subscriber.interests = ""
    subscriber.categories = []
    subscriber.followed_authors = []
    subscriber.paused_until = None
    subscriber.deleted_at = timezone.now()
    subscriber.token_version = F("token_version") + 1
    subscriber.save()
    subscriber.refresh_from_db()


def _without(text: str, email: str, anonymous: str) -> str:
    # Mail servers quote the address in any case ("<Ada@Example.com>").
    return re.sub(re.escape(email), anonymous, text, flags=re.IGNORECASE)


def _erase_from_error_texts(*, subscriber: Subscriber, email: str, anonymous: str) -> None:
    from digest.models import Delivery

    quoted = Delivery.objects.filter(subscriber=subscriber, last_error__icontains=email)
    for pk, text in quoted.values_list("pk", "last_error"):
        Delivery.objects.filter(pk=pk).update(last_error=_without(text, email, anonymous))


def _erase_from_admin_log(*, subscriber: Subscriber, email: str, anonymous: str) -> None:
    """django_admin_log keeps str(object) of every edit: for a subscriber, the address."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    own = Q(
        content_type=ContentType.objects.get_for_model(Subscriber), object_id=str(subscriber.pk)
    )
    entries = LogEntry.objects.filter(
        own | Q(object_repr__icontains=email) | Q(change_message__icontains=email)
    )
    for entry in entries.only("object_repr", "change_message"):
        LogEntry.objects.filter(pk=entry.pk).update(
            object_repr=_without(entry.object_repr, email, anonymous),
            change_message=_without(entry.change_message, email, anonymous),
        )


def subscriber_export(*, subscriber: Subscriber) -> dict[str, Any]:
    """Everything we hold about one subscriber, JSON-ready (GDPR art. 15 and 20)."""
    consents = list(subscriber.consents.order_by("pk"))
    deliveries = subscriber.deliveries.select_related("run").order_by("created_at")
    return {
        "exported_at": _iso(timezone.now()),
        "subscriber": {
            "email": subscriber.email,
            "status": subscriber.status,
            **{field: _iso(getattr(subscriber, field)) for field in PREFERENCE_FIELDS},
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        },
        "consent": _consent_export(consents[-1] if consents else None),
        # Every consent, oldest first: ended ones with when and how they ended.
        "consent_history": [_consent_export(consent) for consent in consents],
        "feedback": [
            {"arxiv_id": f.arxiv_id, "kind": f.kind, "origin": f.origin, "at": _iso(f.created_at)}
            for f in subscriber.feedback.order_by("created_at")
        ],
        "deliveries": [
            {
                "edition": _iso(d.run.edition_date),
                "frequency": d.run.frequency,
                "status": d.status,
                "sent_at": _iso(d.sent_at),
                "papers": [pick.get("arxiv_id") for pick in d.picks if isinstance(pick, dict)],
            }
            for d in deliveries
        ],
    }


def _consent_export(consent: ConsentRecord | None) -> dict[str, Any] | None:
    if consent is None:
        return None
    return {field: _iso(getattr(consent, field)) for field in CONSENT_FIELDS}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _likes_record(subscriber: Subscriber, arxiv_ids: Iterable[str], *, origin: str) -> None:
    """The papers a reader ticked on a form (signup, preferences), as likes."""
    for arxiv_id in arxiv_ids:
        feedback_record(
            subscriber=subscriber, arxiv_id=arxiv_id, kind=PaperFeedback.Kind.LIKE, origin=origin
        )


def feedback_record(
    *, subscriber: Subscriber, arxiv_id: str, kind: str, origin: str = "email"
) -> PaperFeedback:
    """Idempotent: one row per subscriber and paper; a later opposite click changes the kind."""
    feedback, _ = PaperFeedback.objects.update_or_create(
        subscriber=subscriber,
        arxiv_id=arxiv_id,
        defaults={"kind": PaperFeedback.Kind(kind).value},
        create_defaults={"kind": PaperFeedback.Kind(kind).value, "origin": origin},
    )
    return feedback


def feedback_remove(*, subscriber: Subscriber, arxiv_id: str) -> None:
    if not is_valid_arxiv_id(arxiv_id):  # a value from a form: nothing else is stored
        return
    PaperFeedback.objects.filter(subscriber=subscriber, arxiv_id=arxiv_id).delete()


def subscriber_request_manage_link(*, email: str) -> None:
    """Email a fresh manage link if the address is known; say nothing either way.

    The request only queues a task with the address, the same work for a known and an
    unknown one (no timing tells them apart); the task looks the address up.
    """
    _queue(kind="manage-link", email=normalise_email(email))


def subscriber_is_suppressed(*, subscriber: Subscriber) -> bool:
    """Whether we must not email this address at all: it hard-bounced, complained, or
    soft-bounced too often (each ends the consent with the "bounce" or "complaint" method).
    A reader who is back on the list through a signed link has a new, open consent."""
    consent = subscriber.consent
    method = ConsentRecord.UnsubscribeMethod
    return consent is not None and consent.unsubscribe_method in (method.BOUNCE, method.COMPLAINT)


def email_send_confirmation(*, subscriber: Subscriber) -> None:
    _queue(kind="confirm", subscriber_id=subscriber.pk)


def email_send_manage_link(*, subscriber: Subscriber) -> None:
    _queue(kind="manage-link", subscriber_id=subscriber.pk)


def _queue(*, kind: str, subscriber_id: int | None = None, email: str = "") -> None:
    """Send ``kind`` from a Celery task once the request's transaction commits.

    No email is sent inside a web request: a slow mail server would slow the page down
    only for known addresses. A broker outage loses the email (logged), not the page:
    the reader can ask again.
    """
    from subscriptions.tasks import send_account_email

    def send_account_email_later() -> None:
        # The reprs Celery shows in logs and monitors, given: Celery's own (saferepr)
        # cost a tenth of a signup's CPU, and the address stays out of them.
        send_account_email.apply_async(
            kwargs={"kind": kind, "subscriber_id": subscriber_id, "email": email},
            argsrepr="()",
            kwargsrepr=f"{{'kind': {kind!r}, 'subscriber_id': {subscriber_id!r}}}",
        )

    transaction.on_commit(send_account_email_later, robust=True)


def account_email_send(*, kind: str, subscriber_id: int | None = None, email: str = "") -> bool:
    """Send one transactional email ("confirm" or "manage-link"), if it may go.

    Nothing goes to an unknown, erased or suppressed address; errors propagate, for the
    task's retry. Returns whether an email was sent.
    """
    if subscriber_id is not None:
        subscriber = Subscriber.objects.filter(pk=subscriber_id, deleted_at__isnull=True).first()
    else:
        subscriber = subscriber_find(email=email)
    if subscriber is None or subscriber_is_suppressed(subscriber=subscriber):
        return False
    if kind == "confirm":
        if subscriber.status != Subscriber.Status.PENDING:
            return False  # confirmed meanwhile: the link would not work any more
        ctx = {"subscriber": subscriber, "confirm_url": tokens.confirm_url(subscriber)}
    elif kind == "manage-link":
        ctx = {"subscriber": subscriber, "manage_url": tokens.manage_url(subscriber)}
        if subscriber.status == Subscriber.Status.PENDING:
            # They never clicked the first email: this one can finish the signup too.
            ctx["confirm_url"] = tokens.confirm_url(subscriber)
    else:
        raise ValueError(f"unknown account email: {kind!r}")
    make_message(kind, subscriber.email, ctx).send()
    return True
