"""Property-based fuzzing (Hypothesis): no request to a public URL or a webhook is a 5xx.

Every public URL (subscriptions/ and digest/ pages) with a valid token, a tampered one,
a genuinely signed token carrying a hostile value, or random text; GET, HEAD and POST
with random form fields, random bytes and random charsets. Then every tracking webhook
URL anymail knows, each ESP configured in turn and not, with random JSON and bodies.
max_examples is kept small so the suite stays fast; failures shrink to one request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from digest import editions, sending
from digest.models import Delivery
from digest.tracking.webhooks import tracking_views
from subscriptions import tokens
from subscriptions.models import ConsentRecord
from subscriptions.tokens import Purpose
from tests.factories import PaperTrendFactory, SubscriberFactory

DAY = date(2026, 11, 17)
SECRET = "hooks:s3cret"
FUZZ = hsettings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text with the characters that broke things before: NUL and controls, non-ASCII digits,
# bidi controls, surrogate-free astral characters, percent signs and slashes.
HOSTILE = st.sampled_from(
    ["\x00", "²", "٣", "\u202e", "%00", "%", "/", "..", "\r\n", "\U0001d518", "'"]
)
TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(HOSTILE, st.text(max_size=5)), max_size=6).map("".join),
    st.sampled_from(["", "1", "99999999999999999999", "-1", "like", "2501.01234", "a@b.co"]),
)
CHARSETS = st.sampled_from(
    [
        "",
        "; charset=utf-8",
        "; charset=latin-1",
        "; charset=utf-16",
        "; charset=bogus",
        "; charset=cp500",
    ]
)


class _Rollback(Exception):
    pass


@pytest.fixture
def world(db, settings) -> Iterator[dict[str, Any]]:
    """A confirmed reader with one sent digest, and every kind of token for them."""
    settings.DIGEST_TRACKING_ESPS = []
    cache.clear()
    for i in range(3):
        PaperTrendFactory(day=DAY, paper__title=f"Paper number {i} on diffusion models")
    reader = SubscriberFactory(email="fuzz@example.com")
    ConsentRecord.objects.create(subscriber=reader)
    run = editions.digest_run_build(day=DAY)
    sending.digest_run_send(run=run, inline=True)
    delivery = Delivery.objects.get(subscriber=reader)
    arxiv_id = delivery.picks[0]["arxiv_id"]
    yield {"reader": reader, "delivery": delivery, "arxiv_id": arxiv_id}
    cache.clear()


def _tokens(world: dict[str, Any], purpose: Purpose, hostile_extra: str) -> list[str]:
    reader, delivery = world["reader"], world["delivery"]
    extra = {
        Purpose.FEEDBACK: f"like.{world['arxiv_id']}",
        Purpose.WEB_VERSION: str(delivery.pk),
    }.get(purpose, "")
    valid = tokens.make_token(reader, purpose, extra=extra)
    return [
        valid,
        valid[:-1] + ("A" if valid[-1] != "A" else "B"),  # tampered signature
        valid.replace(":", ":x", 1),  # tampered timestamp
        tokens.make_token(reader, purpose, extra=hostile_extra),  # signed, hostile value
        tokens.make_token(reader, Purpose.MANAGE if purpose != Purpose.MANAGE else Purpose.FEED),
    ]


PAGES: list[tuple[str, Purpose | None]] = [
    ("/", None),
    ("/signup/done/", None),
    ("/manage/", None),
    ("/manage/sent/", None),
    ("/confirm/{token}/", Purpose.CONFIRM),
    ("/manage/{token}/", Purpose.MANAGE),
    ("/manage/{token}/papers/remove/", Purpose.MANAGE),
    ("/manage/{token}/export/", Purpose.MANAGE),
    ("/manage/{token}/delete/", Purpose.MANAGE),
    ("/manage/{token}/unsubscribe/", Purpose.MANAGE),
    ("/manage/{token}/resubscribe/", Purpose.MANAGE),
    ("/manage/{token}/revoke/", Purpose.MANAGE),
    ("/unsubscribe/{token}/", Purpose.UNSUBSCRIBE),
    ("/feedback/{token}/", Purpose.FEEDBACK),
    ("/feedback/{token}/{kind}/{arxiv_id}/", Purpose.FEEDBACK),
    ("/digest/feed/{token}/", Purpose.FEED),
    ("/digest/web/{token}/", Purpose.WEB_VERSION),
    ("/digest/why/{token}/{arxiv_id}/", Purpose.FEEDBACK),
    ("/preview/", None),
    ("/archive/", None),
    ("/archive/2026-07-01/", None),
    ("/archive/2026-02-30/", None),
    ("/feed.xml", None),
    ("/privacy/", None),
    ("/favicon.ico", None),
    ("/healthz", None),
    ("/readyz", None),
]
FORM_FIELDS = [
    "email",
    "website",
    "interests",
    "categories",
    "liked_papers",
    "liked",
    "followed_authors",
    "digest_size",
    "frequency",
    "weekday",
    "send_hour",
    "timezone",
    "paused_until",
    "arxiv_id",
    "List-Unsubscribe",
    "csrfmiddlewaretoken",
]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    template, purpose = draw(st.sampled_from(PAGES))
    return {
        "template": template,
        "purpose": purpose,
        "which": draw(st.integers(0, 5)),  # one of _tokens(), or 5: random text
        "hostile_extra": draw(TEXT),
        "random_token": draw(TEXT),
        "kind": draw(st.one_of(st.sampled_from(["like", "dislike"]), TEXT)),
        "arxiv_id": draw(st.one_of(st.just(None), TEXT)),
        "method": draw(st.sampled_from(["GET", "HEAD", "POST", "POST", "POST"])),
        # Often a field the views read, with a hostile value.
        "form": draw(
            st.dictionaries(st.one_of(st.sampled_from(FORM_FIELDS), TEXT), TEXT, max_size=6)
        ),
        "raw": draw(
            st.one_of(
                st.none(),
                st.binary(max_size=200),
                st.builds(
                    str.encode, TEXT, st.sampled_from(["utf-8", "latin-1"]), st.just("replace")
                ),
            )
        ),
        "content_type": draw(
            st.sampled_from(
                [
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=XX",
                    "text/plain",
                    "application/json",
                ]
            )
        ),
        "charset": draw(CHARSETS),
        "query": draw(st.dictionaries(TEXT, TEXT, max_size=2)),
    }


def _path(world: dict[str, Any], r: dict[str, Any]) -> str:
    if r["purpose"] is None:
        return r["template"]
    candidates = _tokens(world, r["purpose"], r["hostile_extra"])
    token = candidates[r["which"]] if r["which"] < len(candidates) else r["random_token"]
    arxiv_id = world["arxiv_id"] if r["arxiv_id"] is None else r["arxiv_id"]
    return r["template"].format(
        token=_quote(token), kind=_quote(r["kind"]), arxiv_id=_quote(arxiv_id)
    )


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/:") or "x"


def _send(client: Client, path: str, r: dict[str, Any]):
    if r["method"] != "POST":
        return client.generic(r["method"], path, QUERY_STRING_from(r["query"]))
    if r["raw"] is not None:
        return client.generic("POST", path, r["raw"], content_type=r["content_type"] + r["charset"])
    return client.post(path, r["form"])


def QUERY_STRING_from(query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(query)


def _known(template: str, purpose: Purpose | None, **changes: Any) -> dict[str, Any]:
    """A request that answered 500 before issue #15, for Hypothesis to try every run."""
    base = {
        "template": template,
        "purpose": purpose,
        "which": 0,
        "hostile_extra": "",
        "random_token": "",
        "kind": "like",
        "arxiv_id": None,
        "method": "POST",
        "form": {},
        "raw": None,
        "content_type": "application/x-www-form-urlencoded",
        "charset": "",
        "query": {},
    }
    return {**base, **changes}


LATIN1_FORM = {"raw": b"email=caf%E9%40example.com", "charset": "; charset=latin-1"}


@FUZZ
@given(r=requests())
@example(r=_known("/", None, **LATIN1_FORM))
@example(r=_known("/manage/", None, **LATIN1_FORM))
@example(
    r=_known(
        "/unsubscribe/{token}/",
        Purpose.UNSUBSCRIBE,
        raw=b"List-Unsubscribe=One-Click",
        charset="; charset=utf-16",
    )
)
@example(r=_known("/manage/{token}/papers/remove/", Purpose.MANAGE, form={"arxiv_id": "1\x00"}))
@example(
    r=_known("/digest/web/{token}/", Purpose.WEB_VERSION, method="GET", which=3, hostile_extra="²")
)
@example(
    r=_known(
        "/feedback/{token}/{kind}/{arxiv_id}/",
        Purpose.FEEDBACK,
        method="GET",
        which=3,
        hostile_extra="²",
    )
)
def test_no_public_url_answers_a_server_error(world, r):
    client = Client(raise_request_exception=False)
    try:
        with transaction.atomic():  # every example starts from the same reader
            path = _path(world, r)
            if r["method"] != "POST":
                path = path + ("?" + QUERY_STRING_from(r["query"]) if r["query"] else "")
                response = client.generic(r["method"], path)
            else:
                response = _send(client, path, r)
            assert response.status_code < 500, (path, r, response.status_code)
            raise _Rollback
    except _Rollback:
        pass


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
ESP_ROUTES = sorted(tracking_views())


def _event_like(draw: st.DrawFn) -> Any:
    """JSON shaped like the ESPs' events often enough to reach their parsers."""
    keys = [
        "RecordType",
        "MessageID",
        "Metadata",
        "Recipient",
        "event",
        "event-data",
        "signature",
        "msys",
        "Type",
        "Message",
        "data",
        "type",
        "events",
        "id",
        "email",
        "timestamp",
        "metadata",
        "user-variables",
        "delivery_id",
        "mandrill_events",
    ]
    return draw(st.dictionaries(st.sampled_from(keys), JSON, max_size=6))


@FUZZ
@given(
    route=st.sampled_from(ESP_ROUTES),
    configured=st.booleans(),
    auth=st.sampled_from([SECRET, "", "a:b"]),
    body=st.one_of(
        st.builds(json.dumps, JSON),
        st.composite(_event_like)().map(json.dumps),
        st.binary(max_size=200),
    ),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain"]
    ),
    charset=CHARSETS,
)
def test_no_webhook_url_answers_a_server_error(
    world, settings, route, configured, auth, body, content_type, charset
):
    slug = tracking_views()[route][0]
    settings.DIGEST_TRACKING_ESPS = [slug] if configured else ["none"]
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": "k",
        "POSTAL_WEBHOOK_KEY": "",
        "MANDRILL_WEBHOOK_KEY": "k",
        "MAILERSEND_WEBHOOK_SIGNING_SECRET": "s",
        "RESEND_SIGNING_SECRET": "s",
        "UNISENDER_GO_API_KEY": "k",
    }
    client = Client(raise_request_exception=False)
    headers = {}
    if auth:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        with transaction.atomic():
            path = "/anymail/" + route.lstrip("^").rstrip("$").replace("(_mime)?", "")
            data = body.encode() if isinstance(body, str) else body
            response = client.generic(
                "POST", path, data, content_type=content_type + charset, **headers
            )
            assert response.status_code < 500, (path, body, response.status_code)
            if not configured and content_type == "application/json":
                assert response.status_code == 404  # (a hostile form body: 400 first)
            raise _Rollback
    except _Rollback:
        pass
