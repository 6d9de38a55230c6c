"""Send over SMTP while the claim commits, and let the claim decide at the last moment.

An SMTP server takes responsibility for a message only when it answers the "." that
ends DATA; a session that closes before that delivers nothing (RFC 5321 4.1.1.4). So a
worker can send MAIL, RCPT, DATA and the whole message while its claim of the delivery
is being committed, and send the final "." only once the claim is durable. If the claim
fails, the session is dropped and the message is gone. Exactly-once is unchanged: no
message can be accepted before its claim is committed, and the previous message is
marked sent in that same commit. What it saves is the wait: the commit (an fsync, ~3 ms
here) overlaps with the SMTP exchange instead of preceding it.

The SMTP half runs in a helper thread (sockets release the GIL); the database stays on
the calling thread. SMTPTransport is the sender loop's face of this (transport.py): it
drives Django's own SMTP backend when DIGEST_SMTP_OVERLAP is on; every other backend
(anymail's ESPs, locmem, the outbox) goes through BackendTransport, claim then send.
Measured (bench/send_smtp.py): about 30 % less worker CPU per email and 1.5 to 1.7 times
the messages per second of BackendTransport over the same SMTP server.
"""

from __future__ import annotations

import functools
import logging
import queue
import re
import smtplib
import socket
import threading
from collections.abc import Callable
from email.utils import parseaddr

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import EmailMessage, sanitize_address

from digest.sending.transport import BackendTransport, Claim

logger = logging.getLogger(__name__)
_LEADING_DOT = re.compile(rb"(?m)^\.")


class ClaimLost(Exception):
    """The claim failed: the session was dropped before "." so nothing was delivered."""


class SMTPTransport(BackendTransport):
    """Django's SMTP backend, each message's claim overlapping its upload.

    send() returns once the final "." is out; settle() reads the server's verdict, so
    the sender loop records the hand-over (marks.py) while the server still reads it.
    """

    backend: SMTPBackend

    def __init__(self, backend: SMTPBackend) -> None:
        super().__init__(backend)
        self._reply: PendingReply | None = None

    @classmethod
    def accepts(cls, backend: BaseEmailBackend) -> bool:
        return bool(settings.DIGEST_SMTP_OVERLAP) and isinstance(backend, SMTPBackend)

    def send(self, message: EmailMessage, claim: Claim) -> bool:
        if self.backend.connection is None:
            # Opening failed (at the chunk's start or after a drop): the backend's own
            # send opens the session and reports the error.
            return super().send(message, claim)
        try:
            self._reply = send_when_claimed(self.backend, message, claim)
        except ClaimLost:
            return False
        return True

    @property
    def awaiting_verdict(self) -> bool:
        return self._reply is not None  # the final "." is out, its reply not read

    def settle(self) -> None:
        reply, self._reply = self._reply, None
        if reply is not None:
            reply.wait()


def send_when_claimed(mail: SMTPBackend, message: EmailMessage, claim: Claim) -> PendingReply:
    """Send ``message`` over the open session; ``claim()`` runs meanwhile and must be True.

    Returns once the final "." is sent; the server's verdict is read by the returned
    PendingReply's wait(), so the caller can prepare its next email meanwhile (the
    server is still reading this one). Raises ClaimLost when the claim fails (nothing
    delivered), the claim's own error, or an smtplib error (not accepted).
    """
    smtp = mail.connection
    assert smtp is not None  # SMTPTransport sends this way only over an open session
    encoding = message.encoding or "utf-8"
    sender = _envelope_sender(message.from_email, encoding)
    recipients = [_envelope_address(addr, encoding) for addr in message.recipients()]
    data = message.message().as_bytes(linesep="\r\n")
    helper = _helper()
    helper.start(_begin, smtp, sender, recipients, data)
    try:
        claimed = claim()
    except BaseException:
        helper.join()  # wait: the session is not ours until the helper is done
        _drop(mail)
        raise
    began_error = helper.join()
    if not claimed or began_error is not None:
        _drop(mail)  # mid-DATA: only closing the session discards the message
        if not claimed:
            raise ClaimLost
        raise began_error  # type: ignore[misc]
    # Sent alone after the body: without TCP_NODELAY, Nagle's algorithm would hold it
    # until the server's delayed ACK of the body (~40 ms per message).
    assert smtp.sock is not None
    smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    smtp.send(b".\r\n")
    return PendingReply(smtp)


class PendingReply:
    """The server's answer to a message's final ".", not read yet."""

    __slots__ = ("_smtp",)

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self._smtp = smtp

    def wait(self) -> None:
        """Return once the server took the message; raise an smtplib error if it didn't."""
        code, reply = self._smtp.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)


class _Helper:
    """A thread that runs one call at a time for the thread that owns it.

    Handing a call over is two C-level queue operations; a ThreadPoolExecutor's
    submit() and Future cost several lock rounds more, for every email.
    """

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[..., object], tuple[object, ...]]]
        self._calls = queue.SimpleQueue()
        self._errors: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="smtp-overlap", daemon=True).start()

    def start(self, fn: Callable[..., object], *args: object) -> None:
        self._calls.put((fn, args))

    def join(self) -> BaseException | None:
        """Wait for the call start() handed over; its exception, if it raised one."""
        return self._errors.get()

    def _serve(self) -> None:
        while True:
            fn, args = self._calls.get()
            try:
                fn(*args)
            except BaseException as exc:  # handed to the owner, who decides
                self._errors.put(exc)
            else:
                self._errors.put(None)


_local = threading.local()


def _helper() -> _Helper:
    # One helper per sending thread: chunks sent by several threads of one process
    # (Celery's threads pool) never queue behind each other's helper.
    helper = getattr(_local, "helper", None)
    if helper is None:
        helper = _local.helper = _Helper()
    return helper


def _begin(smtp: smtplib.SMTP, sender: str, recipients: list[str], data: bytes) -> None:
    """Everything up to the final "." (smtplib.sendmail's steps, without the end).

    With a server that offers PIPELINING (RFC 2920: Postfix, the ESPs' SMTP relays)
    MAIL, RCPT and DATA go out together and their replies are read after: one round trip
    instead of three, which is most of the time per message to a distant relay.
    """
    smtp.ehlo_or_helo_if_needed()
    size = f" size={len(data)}" if smtp.has_extn("size") else ""
    mail_from, rcpt_to = f"FROM:<{sender}>{size}", [f"TO:<{r}>" for r in recipients]
    if smtp.has_extn("pipelining"):
        commands = [f"MAIL {mail_from}", *(f"RCPT {to}" for to in rcpt_to), "DATA"]
        smtp.send("".join(f"{command}\r\n" for command in commands))
        replies = [smtp.getreply() for _ in commands]
    else:
        replies = [smtp.docmd("mail", mail_from)]
        if replies[0][0] == 250:  # as smtplib does: no RCPT for a refused sender...
            replies += [smtp.docmd("rcpt", to) for to in rcpt_to]
            if any(code in (250, 251) for code, _ in replies[1:]):  # ...no DATA for nobody
                replies.append(smtp.docmd("data"))
    code, reply = replies[0]
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {
        rcpt: (code, reply)
        for rcpt, (code, reply) in zip(recipients, replies[1 : 1 + len(recipients)], strict=True)
        if code not in (250, 251)
    }
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = replies[-1]
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    # Dot-stuffing (RFC 5321 4.5.2); the regex pass only when a line starts with ".".
    body = _LEADING_DOT.sub(b"..", data) if data[:1] == b"." or b"\n." in data else data
    smtp.send(body if body.endswith(b"\r\n") else body + b"\r\n")


# A plain ASCII addr-spec, as signup stores them: what sanitize_address + smtplib's
# quoteaddr would reduce it to is itself. Anything else takes their slow, careful path.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


def _envelope_address(address: str, encoding: str) -> str:
    """The bare address for MAIL FROM / RCPT TO, as Django's backend + smtplib make it."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return address
    return parseaddr(sanitize_address(address, encoding))[1]


@functools.lru_cache(maxsize=64)
def _envelope_sender(address: str, encoding: str) -> str:
    return _envelope_address(address, encoding)


def _drop(mail: SMTPBackend) -> None:
    # No QUIT: the server would wait for the end of DATA. Closing the socket aborts it.
    smtp, mail.connection = mail.connection, None
    try:
        if smtp is not None:
            smtp.close()
        mail.open()  # for the chunk's next email
    except Exception:  # the next send opens (and reports) on its own
        logger.warning("reopening the SMTP session failed", exc_info=True)
