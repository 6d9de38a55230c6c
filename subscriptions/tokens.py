"""Signed links: one salt per purpose, revocable per subscriber, alive across key rotation.

Long-lived links (manage, unsubscribe, feedback, feed) sign "<id>.<token_version>[.<extra>]"
with a TimestampSigner. Bumping ``Subscriber.token_version`` revokes every such link at
once. Django's signer also accepts signatures made with any key in SECRET_KEY_FALLBACKS,
so links in old emails survive a SECRET_KEY rotation.

The confirmation link is single-use, like django.contrib.auth's PasswordResetTokenGenerator:
the signed value includes a hash of the state that changes once it is used (status and
confirmed_at), so a second click no longer verifies.
"""

from __future__ import annotations

import binascii
import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.encoding import force_bytes

from subscriptions.models import Subscriber


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    FEEDBACK = "feedback"
    FEED = "feed"
    WEB_VERSION = "web-version"


# How long each kind of link stays valid. Links in emails must outlive a long holiday.
MAX_AGE: dict[Purpose, timedelta | None] = {
    Purpose.CONFIRM: timedelta(days=3),
    Purpose.MANAGE: timedelta(days=180),
    Purpose.UNSUBSCRIBE: timedelta(days=365),
    Purpose.FEEDBACK: timedelta(days=180),
    Purpose.FEED: None,  # a feed reader polls for ever; revoke with token_version
    Purpose.WEB_VERSION: timedelta(days=365),
}


class BadToken(Exception):
    """Tampered, expired, revoked or already used. Callers show one plain page for all."""


class UnknownSubscriber(BadToken):
    """A genuine signature for a subscriber who has since deleted themselves."""


class UsedConfirmation(BadToken):
    """A genuine, unexpired confirmation link whose subscriber's state has moved on (it was
    used, or they unsubscribed since). The page can say "already subscribed" instead."""

    def __init__(self, message: str, subscriber: Subscriber) -> None:
        super().__init__(message)
        self.subscriber = subscriber


@dataclass(frozen=True, slots=True)
class TokenData:
    subscriber: Subscriber
    extra: str


def salt(purpose: Purpose) -> str:
    """The signing salt of ``purpose``'s links; changing it voids every such link sent."""
    return f"subscriptions.tokens.{purpose.value}"


def _signer(purpose: Purpose) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=salt(purpose))


# Signing, without Django's per-call overhead. TimestampSigner(salt=s).sign(v) is
# "v:<b62 time>:<sig>", sig being the unpadded urlsafe base64 of HMAC-SHA256(key, "v:<time>")
# with key = sha256(s + "signer" + SECRET_KEY) (salted_hmac): Django derives that key and
# builds a signer and an HMAC object for every token, half the CPU of rendering a digest
# (which signs four). Here the HMAC's keyed inner and outer SHA-256 states (RFC 2104) are
# made once per purpose and SECRET_KEY (so override_settings and a key rotation take effect
# at once) and copied per token; the output is byte for byte Django's (tests compare them).
# Reading stays Django's unsign, which also tries SECRET_KEY_FALLBACKS.
_keyed: dict[tuple[Purpose, str | bytes], tuple[Any, Any]] = {}
_stamp: tuple[int, str] = (-1, "")
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _hmac_states(purpose: Purpose) -> tuple[Any, Any]:
    secret = settings.SECRET_KEY
    states = _keyed.get((purpose, secret))
    if states is None:
        if len(_keyed) >= 64:  # a test suite's many override_settings
            _keyed.clear()
        salted = f"{salt(purpose)}signer".encode() + force_bytes(secret)
        key = hashlib.sha256(salted).digest().ljust(64, b"\0")  # SHA-256's block: 64 bytes
        states = (hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD)))
        _keyed[(purpose, secret)] = states
    return states


def _timestamp() -> str:
    """signing.TimestampSigner.timestamp(), made once a second."""
    global _stamp
    now = int(time.time())
    if _stamp[0] != now:
        _stamp = (now, signing.b62_encode(now))
    return _stamp[1]


def sign(value: str, purpose: Purpose) -> str:
    """The same string as signing.TimestampSigner(salt=salt(purpose)).sign(value)."""
    value = f"{value}:{_timestamp()}"
    inner, outer = _hmac_states(purpose)
    inner = inner.copy()
    inner.update(value.encode())
    outer = outer.copy()
    outer.update(inner.digest())
    sig = binascii.b2a_base64(outer.digest(), newline=False).translate(_URLSAFE)
    return f"{value}:{sig.rstrip(b'=').decode()}"


def _state_hash(subscriber: Subscriber) -> str:
    """What changes once a confirmation link is used (or the address is re-used)."""
    confirmed = subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else ""
    state = f"{subscriber.status}|{confirmed}|{subscriber.email}|{subscriber.token_version}"
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def make_token(subscriber: Subscriber, purpose: Purpose, extra: str = "") -> str:
    version = _state_hash(subscriber) if purpose is Purpose.CONFIRM else subscriber.token_version
    value = f"{subscriber.pk}.{version}"
    if extra:
        value = f"{value}.{extra}"
    return sign(value, purpose)


def read_token(token: str, purpose: Purpose) -> TokenData:
    max_age = MAX_AGE[purpose]
    try:
        value = _signer(purpose).unsign(token, max_age=max_age)
    except signing.BadSignature as exc:  # includes SignatureExpired
        raise BadToken(str(exc)) from exc
    pk, _, rest = value.partition(".")
    version, _, extra = rest.partition(".")
    subscriber = _live_subscriber(pk)
    if subscriber is None:
        raise UnknownSubscriber("unknown subscriber")
    expected = (
        _state_hash(subscriber) if purpose is Purpose.CONFIRM else str(subscriber.token_version)
    )
    if version != expected:
        if purpose is Purpose.CONFIRM:
            raise UsedConfirmation("already used", subscriber)
        raise BadToken("revoked or already used")
    return TokenData(subscriber=subscriber, extra=extra)


def _live_subscriber(pk: str) -> Subscriber | None:
    """The subscriber the token names, unless deleted. Every page of a signed link reads
    it: one raw statement, for half the CPU of the ORM's (compiling the query was most of
    it); the row is the same model instance."""
    if not (pk.isascii() and pk.isdigit()):  # we signed it, so never; but no query then
        return None
    table = Subscriber._meta.db_table
    sql = f"SELECT * FROM {table} WHERE id = %s AND deleted_at IS NULL"
    return next(iter(Subscriber.objects.raw(sql, [int(pk)])), None)


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def confirm_url(subscriber: Subscriber) -> str:
    token = make_token(subscriber, Purpose.CONFIRM)
    return absolute(reverse("subscriptions:confirm", args=[token]))


def manage_url(subscriber: Subscriber) -> str:
    token = make_token(subscriber, Purpose.MANAGE)
    return absolute(reverse("subscriptions:manage", args=[token]))


def unsubscribe_url(subscriber: Subscriber) -> str:
    """The footer link and the RFC 8058 List-Unsubscribe URL (same URL, GET vs POST)."""
    token = make_token(subscriber, Purpose.UNSUBSCRIBE)
    return absolute(reverse("subscriptions:unsubscribe", args=[token]))


def feedback_url(subscriber: Subscriber, arxiv_id: str, kind: str) -> str:
    """The older one-token-per-link form (kind is "like" or "dislike", PaperFeedback.Kind).

    Digests now use delivery_feedback_url; these links, already in mailboxes, keep working.
    """
    token = make_token(subscriber, Purpose.FEEDBACK, extra=f"{kind}.{arxiv_id}")
    return absolute(reverse("subscriptions:feedback", args=[token]))


def delivery_feedback_token(subscriber: Subscriber, delivery_id: int) -> str:
    """One token for every feedback link of one email: it signs the delivery, not the paper.

    The kind and the paper go in the URL path; the view accepts only papers that were
    among that delivery's picks, so the token cannot be used for any other paper. Signing
    once per email instead of twice per paper is most of the cost of rendering a digest.
    """
    return make_token(subscriber, Purpose.FEEDBACK, extra=str(delivery_id))


def delivery_feedback_url(
    subscriber: Subscriber, delivery_id: int, arxiv_id: str, kind: str
) -> str:
    token = delivery_feedback_token(subscriber, delivery_id)
    args = [token, kind, arxiv_id]
    return absolute(reverse("subscriptions:delivery_feedback", args=args))


def why_url(subscriber: Subscriber, delivery_id: int, arxiv_id: str) -> str:
    """ "Why this paper?" of one pick: signed by the email's one feedback token."""
    token = delivery_feedback_token(subscriber, delivery_id)
    return absolute(reverse("digest:why_paper", args=[token, arxiv_id]))


def feed_url(subscriber: Subscriber) -> str:
    """Private Atom feed of the subscriber's picks (served by digest.views)."""
    token = make_token(subscriber, Purpose.FEED)
    return absolute(reverse("digest:feed", args=[token]))


def web_version_url(subscriber: Subscriber, delivery_id: int) -> str:
    """ "View in browser" link for one delivered digest (served by digest.views)."""
    token = make_token(subscriber, Purpose.WEB_VERSION, extra=str(delivery_id))
    return absolute(reverse("digest:web_version", args=[token]))
