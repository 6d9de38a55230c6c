from __future__ import annotations

from django.core.management import call_command

from digest.models import Delivery, DigestRun
from subscriptions.models import Subscriber


def test_it_sends_one_digest_per_active_subscriber_with_titles_and_unsubscribe(
    subscriber_factory, papers, day, mailoutbox
):
    reader = subscriber_factory(digest_size=5)
    subscriber_factory(status=Subscriber.Status.PENDING)
    subscriber_factory(status=Subscriber.Status.UNSUBSCRIBED)

    call_command("send_digests", "--date", day.isoformat())

    assert [m.to for m in mailoutbox] == [[reader.email]]
    message = mailoutbox[0]
    html = message.alternatives[0][0]
    for paper in papers:
        assert paper.title in message.body
        assert paper.title in html
    assert "/unsubscribe/" in message.body or "unsubscribe" in message.body.lower()
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].startswith("<http://testserver/")
    run = DigestRun.objects.get()
    assert run.status == DigestRun.Status.DONE
    assert run.sent_count == 1
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    assert message.extra_headers["Message-ID"] == delivery.message_id
    assert len(delivery.picks) == 5


def test_it_sends_nothing_twice_when_rerun(subscriber_factory, papers, day, mailoutbox):
    subscriber_factory()
    call_command("send_digests", "--date", day.isoformat())
    call_command("send_digests", "--date", day.isoformat())
    assert len(mailoutbox) == 1
    assert Delivery.objects.count() == 1


def test_it_says_what_this_call_did_apart_from_the_editions_totals(
    subscriber_factory, papers, day, mailoutbox
):
    from io import StringIO

    subscriber_factory()
    first = StringIO()
    call_command("send_digests", "--date", day.isoformat(), stdout=first)
    assert "this call planned 1, sent 1, failed 0" in first.getvalue()
    assert "Edition so far: done, planned 1, sent 1" in first.getvalue()

    subscriber_factory()
    second = StringIO()
    call_command("send_digests", "--date", day.isoformat(), stdout=second)
    assert "this call planned 1, sent 1, failed 0" in second.getvalue()
    assert "planned 2, sent 2" in second.getvalue()

    third = StringIO()
    call_command("send_digests", "--date", day.isoformat(), stdout=third)
    assert "this call planned 0, sent 0, failed 0" in third.getvalue()
