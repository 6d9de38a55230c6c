"""Which addresses we mail: a public mailbox on a public domain name, nothing else.

Django's EmailValidator accepts ``x@localhost`` (its allow-list), IP literals such as
``x@[127.0.0.1]`` and any Unicode; a digest service has no business mailing its own
host, a private network, or an address whose text reads differently from what it is
(bidirectional controls and other invisible format characters).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

# Host names that are never someone's public mail domain (RFC 2606 / 6761 special use).
RESERVED_DOMAINS = ("localhost", "localdomain", "local", "internal", "invalid", "test")
# Unicode categories that never belong in an address: controls, format characters
# (bidi overrides, zero-width joiners), unassigned, private use, surrogates.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})

NOT_PUBLIC = "Enter an address on a public domain, like name@example.com."
INVISIBLE = "An email address can't contain invisible or text-direction characters."


def validate_public_address(value: str) -> None:
    """Refuse control, bidi and other invisible characters, IP literals and local names."""
    if any(unicodedata.category(char) in FORBIDDEN_CATEGORIES for char in value):
        raise ValidationError(INVISIBLE, code="invisible_chars")
    _local, at, domain = value.rpartition("@")
    domain = domain.rstrip(".").lower()
    if not (at and domain):  # malformed: the email validator says so, once
        return
    if domain.startswith("[") or "." not in domain:
        raise ValidationError(NOT_PUBLIC, code="not_public")
    labels = domain.split(".")
    if labels[-1] in RESERVED_DOMAINS or labels[-1].isdigit():
        raise ValidationError(NOT_PUBLIC, code="not_public")
