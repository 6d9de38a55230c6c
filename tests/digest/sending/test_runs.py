"""runs.py: an edition's sending started, approved, sent again."""

from __future__ import annotations

from datetime import timedelta

from digest import editions, sending
from digest.models import Delivery, DigestRun
from subscriptions.models import PaperFeedback


def _build(day, **kwargs):
    return editions.digest_run_build(day=day, **kwargs)


def test_it_does_not_repeat_papers_already_sent(
    subscriber_factory, paper_trend_factory, papers, day, mailoutbox
):
    reader = subscriber_factory(digest_size=5)
    sending.digest_run_send(run=_build(day), inline=True)
    first = {p["arxiv_id"] for p in Delivery.objects.get().picks}
    next_day = day + timedelta(days=1)
    for paper in papers:
        paper_trend_factory(paper=paper, day=next_day)
    paper_trend_factory(day=next_day, paper__title="Diffusion transformers at scale")
    sending.digest_run_send(run=_build(next_day), inline=True)
    second = Delivery.objects.get(run__edition_date=next_day, subscriber=reader)
    assert {p["arxiv_id"] for p in second.picks}.isdisjoint(first)
    assert len(second.picks) >= 1


def test_it_ranks_with_the_subscribers_feedback(subscriber_factory, papers, day):
    reader = subscriber_factory(interests="", digest_size=5)
    PaperFeedback.objects.create(subscriber=reader, arxiv_id=papers[3].arxiv_id, kind="dislike")
    _build(day)
    picks = Delivery.objects.get().picks
    assert all({"arxiv_id", "score", "reason"} <= set(p) for p in picks)
    assert [p["score"] for p in picks] == sorted((p["score"] for p in picks), reverse=True)


def test_with_approval_required_a_run_waits_for_review(
    subscriber_factory, papers, day, mailoutbox, settings
):
    settings.DIGEST_REQUIRE_APPROVAL = True
    subscriber_factory.create_batch(2)
    run = _build(day)
    assert run.status == DigestRun.Status.AWAITING_REVIEW
    sending.digest_run_send(run=run, inline=True)
    assert mailoutbox == []
    sending.digest_run_approve(run=run, user="editor", inline=True)
    run.refresh_from_db()
    assert (run.status, run.approved_by, len(mailoutbox)) == ("done", "editor", 2)


def test_the_admin_can_resend_all_failed_deliveries(
    subscriber_factory, papers, day, mailoutbox, esp
):
    subscriber_factory.create_batch(3)
    esp.down()
    run = _build(day)
    sending.digest_run_send(run=run, inline=True)
    assert Delivery.objects.filter(status="failed").count() == 3
    esp.up()
    assert sending.digest_run_resend_failed(run=run, inline=True) == 3
    run.refresh_from_db()
    assert (run.status, run.sent_count, len(mailoutbox)) == ("done", 3, 3)
