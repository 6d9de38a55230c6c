"""How the sender loop hands a claimed email to the outside world: the Transport seam.

As healthchecks' hc/api/transports.py: a base class with one documented method (send),
one subclass per kind, and a registry that picks the kind once per chunk, from the
settings, so the sender loop never asks which email backend it has.

- BackendTransport: any Django/anymail email backend (ESPs, locmem, the file outbox,
  Django's SMTP): claim, then send.
- SMTPTransport (smtp.py): Django's SMTP backend with DIGEST_SMTP_OVERLAP on: the claim
  commits while the message goes out, and only a committed claim ends DATA.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string

# The kinds tried in order; each says whether it drives the configured backend
# (its accepts()). Anything none accepts goes through BackendTransport.
TRANSPORTS = ("digest.sending.smtp.SMTPTransport",)

Claim = Callable[[], bool]


class Transport:
    """One email connection, open for a chunk; sends each message only once it is claimed."""

    def __init__(self, backend: BaseEmailBackend) -> None:
        self.backend = backend

    @classmethod
    def accepts(cls, backend: BaseEmailBackend) -> bool:
        """Whether this kind drives ``backend`` under the current settings."""
        return False

    def open(self) -> None:
        """Open the connection for a chunk (it may raise: each send then tries again)."""
        self.backend.open()

    def close(self) -> None:
        self.backend.close()

    def send(self, message: EmailMessage, claim: Claim) -> bool:
        """Send ``message`` if and only if ``claim()`` returns True; False if it didn't.

        ``claim()`` is called exactly once, and nothing may be accepted by the other
        side before it has returned True (exactly-once rests on this). Its exceptions
        propagate. A send error raises; a transport that learns the verdict only later
        returns True here and raises the refusal from settle().
        """
        raise NotImplementedError

    @property
    def awaiting_verdict(self) -> bool:
        """Whether the message send() last returned True for has left in full and its
        verdict is not read yet (settle() reads it).

        Then the sender records the hand-over before settle(): from that moment a kill
        no longer makes the sweeper send it again. False when send() had the verdict at
        once: an ESP's HTTP API has no moment between "all sent" and "reply read".
        """
        return False

    def settle(self) -> None:
        """Wait for the verdict on the message send() last returned True for.

        Raise if it was refused. Called before the next claim (which marks that message
        sent) and at the end of the chunk. Most transports know at once: nothing to do.
        """


class BackendTransport(Transport):
    """Any Django/anymail email backend: claim first, then hand the message over."""

    @classmethod
    def accepts(cls, backend: BaseEmailBackend) -> bool:
        return True

    def send(self, message: EmailMessage, claim: Claim) -> bool:
        if not claim():
            return False
        self.backend.send_messages([message])
        return True


def transport_for_settings() -> Transport:
    """The transport for EMAIL_BACKEND (and the kinds' own settings), with a new backend."""
    backend: Any = get_connection()
    for path in TRANSPORTS:
        kind: type[Transport] = import_string(path)
        if kind.accepts(backend):
            return kind(backend)
    return BackendTransport(backend)
