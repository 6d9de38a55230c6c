"""Addresses we refuse to mail, with a clear form error."""

from __future__ import annotations

import pytest

from subscriptions.forms import ManageLinkRequestForm, SignupForm
from subscriptions.validators import INVISIBLE, NOT_PUBLIC

REFUSED = {
    "x@localhost": NOT_PUBLIC,
    "x@LOCALHOST.": NOT_PUBLIC,
    "x@[127.0.0.1]": NOT_PUBLIC,
    "x@[IPv6:::1]": NOT_PUBLIC,
    "x@127.0.0.1": NOT_PUBLIC,
    "x@intranet": NOT_PUBLIC,
    "x@mail.localhost": NOT_PUBLIC,
    "x@host.internal": NOT_PUBLIC,
    "ada\u202e@example.com": INVISIBLE,  # right-to-left override
    "ada@exa\u200bmple.com": INVISIBLE,  # zero-width space
    "ada\u2066@example.com": INVISIBLE,  # left-to-right isolate
}


@pytest.mark.parametrize(("address", "message"), REFUSED.items())
@pytest.mark.parametrize("form_class", [SignupForm, ManageLinkRequestForm])
def test_the_public_forms_refuse_non_public_addresses(form_class, address, message):
    form = form_class({"email": address})
    assert not form.is_valid()
    assert "email" in form.errors
    assert any(message == error or "valid email" in error for error in form.errors["email"])


@pytest.mark.parametrize(
    "address", ["ada@example.com", "ada@münchen.de", "a.b+c@sub.example.co.uk"]
)
def test_ordinary_addresses_pass(address):
    form = ManageLinkRequestForm({"email": address})
    assert form.is_valid(), form.errors


def test_the_error_says_what_to_change():
    form = ManageLinkRequestForm({"email": "x@localhost"})
    form.is_valid()
    assert form.errors["email"] == [NOT_PUBLIC]
