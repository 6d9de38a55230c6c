"""tokens.sign: Django's TimestampSigner output, byte for byte, at a fraction of the CPU."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import signing
from django.test import override_settings

from subscriptions import tokens
from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose

KEY_A = "key-a-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghij"
KEY_B = "key-b-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghij"
VALUES = ["1.0", "42.7.1234", "9" * 30, "5.1.like.2401.12345", "7.0.ünïcödé…", "", "a:b:c"]


def _django(value: str, purpose: Purpose) -> str:
    return signing.TimestampSigner(salt=tokens.salt(purpose)).sign(value)


@pytest.mark.parametrize("purpose", list(Purpose))
def test_it_signs_exactly_as_djangos_timestamp_signer(purpose):
    for when in (datetime(2026, 12, 3, 17, 0, 1, tzinfo=UTC), datetime(1999, 1, 1, tzinfo=UTC)):
        with time_machine.travel(when, tick=False):
            for value in VALUES:
                assert tokens.sign(value, purpose) == _django(value, purpose)


def test_the_timestamp_follows_the_clock_second_by_second():
    start = datetime(2026, 12, 3, 17, 0, 0, 900_000, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        first = tokens.sign("1.0", Purpose.MANAGE)
        traveller.shift(timedelta(milliseconds=200))  # the next second
        second = tokens.sign("1.0", Purpose.MANAGE)
        assert second == _django("1.0", Purpose.MANAGE) != first


def test_a_changed_secret_key_changes_the_token_and_old_keys_still_read(subscriber_factory):
    sub = subscriber_factory()
    with time_machine.travel(datetime(2026, 12, 3, 17, 0, tzinfo=UTC), tick=False):
        with override_settings(SECRET_KEY=KEY_A, SECRET_KEY_FALLBACKS=[]):
            token_a = tokens.make_token(sub, Purpose.MANAGE)
            assert token_a == _django(f"{sub.pk}.{sub.token_version}", Purpose.MANAGE)
        with override_settings(SECRET_KEY=KEY_B, SECRET_KEY_FALLBACKS=[KEY_A]):
            token_b = tokens.make_token(sub, Purpose.MANAGE)
            assert token_b != token_a
            assert token_b == _django(f"{sub.pk}.{sub.token_version}", Purpose.MANAGE)
            assert tokens.read_token(token_a, Purpose.MANAGE).subscriber == sub  # a fallback
            assert tokens.read_token(token_b, Purpose.MANAGE).subscriber == sub
        with (
            override_settings(SECRET_KEY=KEY_B, SECRET_KEY_FALLBACKS=[]),
            pytest.raises(tokens.BadToken),
        ):
            tokens.read_token(token_a, Purpose.MANAGE)


@pytest.mark.parametrize("purpose", list(Purpose))
def test_every_purposes_tokens_read_back(subscriber_factory, purpose):
    sub: Subscriber = subscriber_factory()
    token = tokens.make_token(sub, purpose, extra="" if purpose is Purpose.CONFIRM else "12")
    data = tokens.read_token(token, purpose)
    assert data.subscriber == sub
    assert data.extra == ("" if purpose is Purpose.CONFIRM else "12")
    other = Purpose.FEED if purpose is not Purpose.FEED else Purpose.MANAGE
    with pytest.raises(tokens.BadToken):
        tokens.read_token(token, other)
