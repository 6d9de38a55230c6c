from __future__ import annotations

import re
from datetime import date

import css_inline
import time_machine

from digest.editions.snapshot import paper_snapshot
from digest.emails import digest as emails
from digest.emails.digest import RunRenderer
from tests.factories import PaperFactory, SubscriberFactory


def _renderer(n_papers: int) -> tuple[RunRenderer, list]:
    papers = [
        PaperFactory.build(
            title=f"Paper number {i} about efficient transformers",
            authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
            organization="Example Lab",
            upvotes=100 - i,
            ai_summary="Summary sentence. " * 12,
            github_repo="https://github.com/example/code",
            github_stars=4321,
            project_page="https://example.org/project",
            sources=["hf_api"],
        )
        for i in range(n_papers)
    ]
    snapshot = {p.arxiv_id: paper_snapshot(p) for p in papers}
    renderer = RunRenderer(
        run_id=9, edition_date=date(2026, 11, 17), frequency="daily", papers=snapshot
    )
    return renderer, papers


def _picks(papers):
    return [
        {"arxiv_id": p.arxiv_id, "score": 0.5, "reason": "matches “transformers”"} for p in papers
    ]


def test_it_renders_html_and_text_with_every_part_of_a_paper(db):
    subscriber = SubscriberFactory()
    renderer, papers = _renderer(2)
    out = renderer.render(delivery_id=5, subscriber=subscriber, picks=_picks(papers))
    for part in (out.html, out.text):
        assert papers[0].title in part
        assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in part
        assert "Example Lab" in part
        assert "https://github.com/example/code" in part
        assert "4321" in part
        assert "https://example.org/project" in part
        assert f"https://arxiv.org/pdf/{papers[0].arxiv_id}" in part
        assert "/feedback/" in part
        assert "/unsubscribe/" in part
        assert "/digest/web/" in part
        assert "transformers" in part
    assert f'href="https://huggingface.co/papers/{papers[0].arxiv_id}"' in out.html
    assert out.subject == f"{papers[0].title} + 1 more"
    assert "@@" not in out.html + out.text + out.subject


def test_it_inlines_css_but_keeps_the_dark_mode_style_block(db):
    renderer, papers = _renderer(1)
    html = renderer.render(delivery_id=1, subscriber=SubscriberFactory(), picks=_picks(papers)).html
    assert 'name="color-scheme"' in html
    assert "prefers-color-scheme: dark" in html
    assert re.search(r'<table class="card"[^>]* style="background', html)


def test_it_escapes_subscriber_values_in_html(db):
    renderer, papers = _renderer(1)
    picks = [{"arxiv_id": papers[0].arxiv_id, "score": 1, "reason": "<script>x</script>"}]
    out = renderer.render(delivery_id=1, subscriber=SubscriberFactory(), picks=picks)
    assert "<script>x</script>" not in out.html
    assert "&lt;script&gt;" in out.html


def test_it_stays_under_gmails_clipping_size_with_twenty_papers(db):
    renderer, papers = _renderer(20)
    subscriber = SubscriberFactory(digest_size=20)
    message = renderer.message(
        delivery_id=1, message_id="<m@x>", subscriber=subscriber, picks=_picks(papers)
    )
    assert len(message.alternatives[0][0].encode()) < 100_000


def test_it_inlines_css_once_per_run_not_per_email(db, monkeypatch):
    calls = []
    real_fragment = css_inline.inline_fragment
    monkeypatch.setattr(
        emails.css_inline,
        "inline_fragment",
        lambda *a, **k: calls.append(1) or real_fragment(*a, **k),
    )
    renderer, papers = _renderer(3)
    for _ in range(5):
        renderer.render(delivery_id=1, subscriber=SubscriberFactory(), picks=_picks(papers))
    assert len(calls) == 3  # one per paper block, none per email


def test_it_sets_list_and_tracking_headers_and_anymail_metadata(db, settings):
    settings.DIGEST_LIST_ID = "Papers <papers.example.org>"
    renderer, papers = _renderer(1)
    message = renderer.message(
        delivery_id=42,
        message_id="<digest.9.42@x>",
        subscriber=SubscriberFactory(),
        picks=_picks(papers),
    )
    headers = message.extra_headers
    assert headers["List-Id"] == "Papers <papers.example.org>"
    assert headers["Message-ID"] == "<digest.9.42@x>"
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<http://testserver/unsubscribe/")
    assert mailto.startswith("<mailto:unsubscribe@")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.metadata == {"run_id": "9", "delivery_id": "42"}
    assert "digest" in message.tags


@time_machine.travel("2026-11-17 08:00:00+00:00", tick=False)  # signatures carry a timestamp
def test_its_cached_links_are_the_same_as_the_token_modules(db):
    from subscriptions import tokens

    subscriber = SubscriberFactory()
    links = emails._Links()
    for arxiv_id in ("2607.00001", "hep-th/9901001"):
        assert links.feedback(subscriber, 12, arxiv_id, "like") == tokens.delivery_feedback_url(
            subscriber, 12, arxiv_id, "like"
        )
        assert links.why(subscriber, 12, arxiv_id) == tokens.why_url(subscriber, 12, arxiv_id)
    assert links.unsubscribe(subscriber) == tokens.unsubscribe_url(subscriber)
    assert links.manage(subscriber) == tokens.manage_url(subscriber)
    assert links.web_version(subscriber, 12) == tokens.web_version_url(subscriber, 12)


@time_machine.travel("2026-11-17 08:00:00+00:00", tick=False)
def test_its_feedback_links_share_one_token_that_signs_the_delivery(db):
    from subscriptions import tokens

    subscriber = SubscriberFactory()
    renderer, papers = _renderer(3)
    out = renderer.render(delivery_id=77, subscriber=subscriber, picks=_picks(papers))
    for paper in papers:
        for kind in ("like", "dislike"):
            url = tokens.delivery_feedback_url(subscriber, 77, paper.arxiv_id, kind)
            assert f'href="{url}"' in out.html
            assert url in out.text
    token = tokens.delivery_feedback_token(subscriber, 77)
    assert out.html.count(token) == 3 * len(papers)  # like, dislike, why this paper
    assert tokens.read_token(token, tokens.Purpose.FEEDBACK).extra == "77"


def test_a_marker_like_word_in_a_paper_stays_as_it_is(db):
    paper = PaperFactory.build(ai_summary="We write @@papers@@ in {braces}.", sources=[])
    renderer = RunRenderer(
        run_id=1,
        edition_date=date(2026, 11, 17),
        frequency="daily",
        papers={paper.arxiv_id: paper_snapshot(paper)},
    )
    picks = [{"arxiv_id": paper.arxiv_id, "score": 1, "reason": "trending"}]
    out = renderer.render(delivery_id=1, subscriber=SubscriberFactory(), picks=picks)
    assert "We write @@papers@@ in {braces}." in out.html
    assert "We write @@papers@@ in {braces}." in out.text


def test_the_links_of_a_rendered_email_record_feedback(db, client, settings):
    from digest.models import Delivery, DigestRun
    from subscriptions.models import PaperFeedback

    subscriber = SubscriberFactory()
    renderer, papers = _renderer(2)
    run = DigestRun.objects.create(edition_date=date(2026, 11, 17))
    delivery = Delivery.objects.create(run=run, subscriber=subscriber, picks=_picks(papers[:1]))
    out = renderer.render(delivery_id=delivery.pk, subscriber=subscriber, picks=delivery.picks)
    prefix = f'href="{settings.SITE_URL}/feedback/'
    start = out.html.index(prefix) + len(prefix) - len("/feedback/")
    url = out.html[start : out.html.index('"', start)]
    assert url.endswith(f"/like/{papers[0].arxiv_id}/")
    assert client.get(url).status_code == 200  # scanner-safe: a page with one button
    assert client.post(url).status_code == 200  # the button
    assert PaperFeedback.objects.get(subscriber=subscriber).arxiv_id == papers[0].arxiv_id
