"""transport.py: the seam. The loop sends through any Transport; the settings choose it."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from digest import editions, sending
from digest.models import Delivery, DigestRun
from digest.sending.smtp import SMTPTransport
from digest.sending.transport import BackendTransport, Claim, Transport, transport_for_settings


class FakeTransport(Transport):
    """Records what the loop asks of it; refuses the addresses in ``refuse`` on settle."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        super().__init__(LocmemBackend())
        self.calls: list[str] = []
        self.sent: list[str] = []
        self.refuse = refuse
        self.last: str | None = None

    def open(self) -> None:
        self.calls.append("open")

    def close(self) -> None:
        self.calls.append("close")

    def send(self, message: EmailMessage, claim: Claim) -> bool:
        to = message.to[0]
        self.calls.append(f"send {to}")
        if not claim():
            return False
        self.last = to
        return True

    def settle(self) -> None:
        last, self.last = self.last, None
        if last is not None:
            self.calls.append(f"settle {last}")
            if last in self.refuse:
                raise OSError("refused")
            self.sent.append(last)


def _sending_run(subscriber_factory, day, n: int) -> list[int]:
    subscriber_factory.create_batch(n)
    run = editions.digest_run_build(day=day)
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENDING)
    return list(Delivery.objects.order_by("pk").values_list("pk", flat=True))


def test_the_loop_sends_through_any_transport_and_counts_its_verdicts(
    subscriber_factory, papers, day, mailoutbox
):
    ids = _sending_run(subscriber_factory, day, 3)
    emails = list(Delivery.objects.order_by("pk").values_list("subscriber__email", flat=True))
    transport = FakeTransport(refuse=frozenset({emails[1]}))
    result = sending.delivery_send_chunk(delivery_ids=ids, transport=transport)

    assert (result.sent, result.failed) == (2, 1)
    assert transport.sent == [emails[0], emails[2]]
    assert transport.calls[0] == "open" and transport.calls[-1] == "close"
    statuses = list(Delivery.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["sent", "failed", "sent"]
    assert mailoutbox == []  # nothing went around the transport


def test_a_verdict_is_read_before_the_next_claim_marks_that_email_sent(
    subscriber_factory, papers, day
):
    ids = _sending_run(subscriber_factory, day, 2)
    first, second = Delivery.objects.order_by("pk").values_list("subscriber__email", flat=True)
    transport = FakeTransport()
    sending.delivery_send_chunk(delivery_ids=ids, transport=transport)
    assert transport.calls == [
        "open",
        f"send {first}",
        f"settle {first}",
        f"send {second}",
        f"settle {second}",
        "close",
    ]


def test_a_lost_claim_sends_nothing_through_the_transport(subscriber_factory, papers, day):
    ids = _sending_run(subscriber_factory, day, 2)
    Delivery.objects.filter(pk=ids[0]).update(status="sending")  # another worker has it
    transport = FakeTransport()
    result = sending.delivery_send_chunk(delivery_ids=ids, transport=transport)
    assert result.sent == 1
    assert len(transport.sent) == 1


@pytest.mark.parametrize(
    ("backend", "overlap", "kind"),
    [
        ("django.core.mail.backends.smtp.EmailBackend", True, SMTPTransport),
        ("django.core.mail.backends.smtp.EmailBackend", False, BackendTransport),
        ("django.core.mail.backends.locmem.EmailBackend", True, BackendTransport),
        ("digest.sending.outbox.OutboxBackend", True, BackendTransport),
    ],
)
def test_the_settings_choose_the_transport(settings, backend, overlap, kind):
    settings.EMAIL_BACKEND = backend
    settings.DIGEST_SMTP_OVERLAP = overlap
    transport = transport_for_settings()
    assert type(transport) is kind
    assert type(transport.backend).__module__ == backend.rpartition(".")[0]
    if kind is SMTPTransport:
        assert isinstance(transport.backend, SMTPBackend)


def test_the_backend_transport_claims_first_then_sends_with_locmem(db):
    transport = BackendTransport(LocmemBackend())
    message = EmailMessage("Hi", "Body", "digest@example.com", ["a@example.com"])
    seen_at_claim = []

    def claim() -> bool:
        seen_at_claim.append(len(mail.outbox))
        return True

    transport.open()
    assert transport.send(message, claim) is True
    assert transport.send(message, lambda: False) is False
    transport.settle()
    transport.close()
    assert seen_at_claim == [0]
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
