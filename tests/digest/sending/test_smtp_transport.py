"""smtp.py: the SMTP transport, its claim overlapping the upload, against a real server."""

from __future__ import annotations

import smtplib
import threading
import time
from email import message_from_bytes

import pytest
from django.core.mail.backends.smtp import EmailBackend

from digest import editions, sending
from digest.emails.mime import DigestEmail
from digest.models import Delivery
from digest.sending import smtp as smtp_overlap
from digest.sending.smtp import SMTPTransport
from tests.digest.sending import smtp_sink


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[tuple[str, int], list[str], bytes]] = []
        self.senders: list[str] = []
        self.refuse = False
        self.refused_rcpts: set[str] = set()
        self.pipelining = False
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:  # as Postfix and the ESPs' SMTP relays offer it
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused_rcpts:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "554 5.7.1 Rejected"
        with self.lock:
            self.messages.append((session.peer, list(envelope.rcpt_tos), envelope.content))
            self.senders.append(envelope.mail_from)
        return "250 OK"


@pytest.fixture
def smtp_server():
    recorder = Recorder()
    with smtp_sink.running(recorder) as port:
        yield recorder, port


@pytest.fixture
def mail(smtp_server):
    _, port = smtp_server
    backend = EmailBackend(host="127.0.0.1", port=port)
    backend.open()
    yield backend
    backend.close()


def _email(to: str, from_email: str = "digest@example.com") -> DigestEmail:
    email = DigestEmail(
        from_email=from_email,
        subject="Today's papers",
        body="Hello\n.a line starting with a dot\n",
        to=[to],
        headers={"Message-ID": f"<{to}>"},
    )
    email.attach_alternative("<p>Hello</p>", "text/html")
    return email


def test_it_ends_data_only_after_the_claim_and_delivers_the_message(smtp_server, mail):
    recorder, _ = smtp_server
    seen_at_claim = []

    def claim() -> bool:
        time.sleep(0.05)  # a slow commit: the message is on its way meanwhile
        seen_at_claim.append(len(recorder.messages))
        return True

    smtp_overlap.send_when_claimed(mail, _email("a@example.com"), claim).wait()
    assert seen_at_claim == [0]  # nothing was accepted before the claim
    [(_, rcpts, content)] = recorder.messages
    parsed = message_from_bytes(content.replace(b"\r\n", b"\n"))
    assert (rcpts, parsed["Message-ID"]) == (["a@example.com"], "<a@example.com>")
    assert parsed.get_payload()[0].get_payload() == "Hello\n.a line starting with a dot\n"


@pytest.mark.parametrize(
    ("from_email", "to", "envelope_from", "envelope_to"),
    [
        ("digest@example.com", "a.b+c@example.com", "digest@example.com", "a.b+c@example.com"),
        # Not plain: Django's sanitize_address (IDNA domain) and smtplib's quoteaddr.
        (
            "Paper Digest <digest@example.com>",
            "Ré Ader <reader@bücher.example>",
            "digest@example.com",
            "reader@xn--bcher-kva.example",
        ),
    ],
)
def test_the_envelope_is_what_djangos_smtp_backend_would_send(
    smtp_server, mail, from_email, to, envelope_from, envelope_to
):
    recorder, _ = smtp_server
    smtp_overlap.send_when_claimed(mail, _email(to, from_email), lambda: True).wait()
    assert recorder.senders == [envelope_from]
    assert [rcpts for _, rcpts, _ in recorder.messages] == [[envelope_to]]


class SendSpy:
    """Wraps an smtplib session's send(): what went out in each write."""

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.writes: list[bytes] = []
        real = smtp.send

        def send(data):
            self.writes.append(data.encode() if isinstance(data, str) else data)
            return real(data)

        smtp.send = send


@pytest.mark.parametrize("pipelining", [False, True])
def test_mail_rcpt_and_data_go_out_together_only_when_the_server_offers_pipelining(
    smtp_server, pipelining
):
    recorder, port = smtp_server
    recorder.pipelining = pipelining
    backend = EmailBackend(host="127.0.0.1", port=port)
    backend.open()
    spy = SendSpy(backend.connection)
    try:
        for to in ("a@example.com", "b@example.com"):
            smtp_overlap.send_when_claimed(backend, _email(to), lambda: True).wait()
    finally:
        backend.close()
    envelope_writes = [w for w in spy.writes if w[:4].upper() in (b"MAIL", b"RCPT", b"DATA")]
    if pipelining:
        assert envelope_writes[0].count(b"\r\n") == 3  # MAIL, RCPT, DATA in one write
        assert len(envelope_writes) == 2  # one per message
    else:
        assert len(envelope_writes) == 6  # one command, one round trip, at a time
    assert [rcpts for _, rcpts, _ in recorder.messages] == [["a@example.com"], ["b@example.com"]]


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_refused_recipient_raises_and_the_next_message_still_goes(smtp_server, pipelining):
    recorder, port = smtp_server
    recorder.pipelining = pipelining
    recorder.refused_rcpts = {"gone@example.com"}
    backend = EmailBackend(host="127.0.0.1", port=port)
    backend.open()
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp_overlap.send_when_claimed(backend, _email("gone@example.com"), lambda: True)
        smtp_overlap.send_when_claimed(backend, _email("next@example.com"), lambda: True).wait()
    finally:
        backend.close()
    assert [rcpts for _, rcpts, _ in recorder.messages] == [["next@example.com"]]


def test_a_lost_claim_delivers_nothing_and_the_chunk_goes_on(smtp_server, mail):
    recorder, _ = smtp_server
    with pytest.raises(smtp_overlap.ClaimLost):
        smtp_overlap.send_when_claimed(mail, _email("lost@example.com"), lambda: False)
    smtp_overlap.send_when_claimed(mail, _email("next@example.com"), lambda: True).wait()
    time.sleep(0.1)
    assert [rcpts for _, rcpts, _ in recorder.messages] == [["next@example.com"]]


def test_a_failing_claim_raises_its_own_error_and_delivers_nothing(smtp_server, mail):
    recorder, _ = smtp_server

    def claim() -> bool:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        smtp_overlap.send_when_claimed(mail, _email("a@example.com"), claim)
    time.sleep(0.1)
    assert recorder.messages == []


def test_the_reply_is_read_later_and_a_refusal_raises(smtp_server, mail):
    recorder, _ = smtp_server
    pending = smtp_overlap.send_when_claimed(mail, _email("a@example.com"), lambda: True)
    pending.wait()  # the "." went out with send_when_claimed; its verdict is read here
    recorder.refuse = True
    pending = smtp_overlap.send_when_claimed(mail, _email("b@example.com"), lambda: True)
    with pytest.raises(smtplib.SMTPDataError, match="Rejected"):
        pending.wait()
    assert [rcpts for _, rcpts, _ in recorder.messages] == [["a@example.com"]]


def test_a_chunk_goes_out_over_one_session_each_message_once(
    smtp_server, subscriber_factory, papers, day, settings
):
    recorder, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    readers = subscriber_factory.create_batch(5)
    run = editions.digest_run_build(day=day)
    sending.digest_run_send(run=run, inline=True)

    assert sorted(r for _, rcpts, _ in recorder.messages for r in rcpts) == sorted(
        s.email for s in readers
    )
    assert len({peer for peer, _, _ in recorder.messages}) == 1  # one SMTP session
    sent = dict(Delivery.objects.values_list("message_id", "status"))
    received = {message_from_bytes(c)["Message-ID"] for _, _, c in recorder.messages}
    assert set(sent) == received
    assert set(sent.values()) == {"sent"}


def test_the_transport_sends_once_claimed_and_reads_the_verdict_on_settle(smtp_server):
    recorder, port = smtp_server
    transport = SMTPTransport(EmailBackend(host="127.0.0.1", port=port))
    transport.open()
    try:
        assert not transport.awaiting_verdict
        assert transport.send(_email("a@example.com"), lambda: True) is True
        assert transport.awaiting_verdict  # its "." is out: the sender records the hand-over
        transport.settle()
        assert not transport.awaiting_verdict
        assert transport.send(_email("lost@example.com"), lambda: False) is False
        assert not transport.awaiting_verdict
        recorder.refuse = True
        assert transport.send(_email("b@example.com"), lambda: True) is True
        with pytest.raises(smtplib.SMTPDataError):
            transport.settle()
    finally:
        transport.close()
    assert [rcpts for _, rcpts, _ in recorder.messages] == [["a@example.com"]]


def test_without_a_session_the_transport_claims_then_sends_as_the_backend_does(smtp_server):
    recorder, port = smtp_server
    transport = SMTPTransport(EmailBackend(host="127.0.0.1", port=port))  # never opened
    order = []

    def claim() -> bool:
        order.append(len(recorder.messages))
        return True

    assert transport.send(_email("a@example.com"), claim) is True
    assert not transport.awaiting_verdict  # no hand-over before the verdict to record
    transport.settle()  # nothing pending: the backend's send knew at once
    assert order == [0]
    assert [rcpts for _, rcpts, _ in recorder.messages] == [["a@example.com"]]
