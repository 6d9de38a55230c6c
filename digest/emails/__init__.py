"""All rendering: transactional emails (transactional.py, healthchecks' make_message), the
bulk digest renderer (digest.py: shared parts rendered once per edition, filled per
reader), plain-text wrapping and subjects (text.py) and the digest's MIME bytes (mime.py)."""

from digest.emails.digest import (
    RenderedDigest,
    RunRenderer,
    delivery_render,
    edition_label,
    message_id_domain,
    message_id_for,
    renderer_for,
)
from digest.emails.transactional import make_message

__all__ = [
    "RenderedDigest",
    "RunRenderer",
    "delivery_render",
    "edition_label",
    "make_message",
    "message_id_domain",
    "message_id_for",
    "renderer_for",
]
