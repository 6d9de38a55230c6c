"""The redesigned digest (issue #13): header, cards, subject, text wrapping, size, Outlook
and dark mode; and the transactional emails in the same frame."""

from __future__ import annotations

import re
from datetime import date
from email import message_from_bytes, policy

from django.template.loader import render_to_string
from django.test import TestCase

from digest.editions.snapshot import paper_snapshot
from digest.emails.digest import RunRenderer
from digest.emails.text import SUBJECT_CHARS
from digest.emails.transactional import make_message
from subscriptions.services import email_send_confirmation, email_send_manage_link
from tests.factories import PaperFactory, SubscriberFactory

# Longer than nearly every stored paper's (titles: 95th percentile ~130 characters).
LONG_TITLE = (
    "Ünïcödé-aware Sparse Mixture-of-Experts für Long-Context Video Diffusion "
    "with Retrieval-Augmented Planning and Tool Use (視覚と言語の大規模モデル)"
)
LONG_REASON = (
    "matches “long-context video diffusion”, “mixture of experts”; in cs.CV; "
    "you follow Ada Lovelace; like papers you liked; trending: 321 upvotes"
)


def _papers(n, **fields):
    defaults = {
        "title": LONG_TITLE,
        "authors": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
        "organization": "A Very Long Organisation Name of Advanced Research Laboratories",
        "upvotes": 321,
        "ai_summary": "A summary that is long enough to be cut at 280 characters. " * 8,
        "github_repo": "https://github.com/example-organisation/a-rather-long-repository-name",
        "github_stars": 43210,
        "project_page": "https://example-organisation.github.io/a-rather-long-project-page/",
        "sources": ["hf_api"],
    }
    papers = [PaperFactory.build(**{**defaults, **fields}) for _ in range(n)]
    for paper in papers:
        paper.thumbnail_url = fields.get(
            "thumbnail_url",
            f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper.arxiv_id}.png",
        )
    return papers


def _render(papers, *, subscriber=None, reason=LONG_REASON):
    renderer = RunRenderer(
        run_id=3,
        edition_date=date(2026, 12, 3),
        frequency="daily",
        papers={p.arxiv_id: paper_snapshot(p) for p in papers},
    )
    picks = [{"arxiv_id": p.arxiv_id, "score": 1.0, "reason": reason} for p in papers]
    subscriber = subscriber or SubscriberFactory()
    return renderer, renderer.render(delivery_id=8, subscriber=subscriber, picks=picks), picks


def test_the_subject_names_the_top_pick_and_how_many_more_within_70_characters(db):
    _, out, _ = _render(_papers(20))
    assert len(out.subject) <= SUBJECT_CHARS
    assert out.subject.startswith("Ünïcödé-aware Sparse Mixture-of-Experts")
    assert out.subject.endswith("… + 19 more")


def test_a_short_top_title_stands_whole_in_the_subject(db):
    _, out, _ = _render(_papers(1, title="Small models, big ideas"))
    assert out.subject == "Small models, big ideas"


def test_the_plain_text_part_is_wrapped_at_78_columns_but_for_bare_urls(db):
    _, out, _ = _render(_papers(20))
    long_lines = [line for line in out.text.split("\n") if len(line) > 78]
    assert long_lines  # the signed feedback links are longer than 78...
    assert all(re.fullmatch(r"https?://\S+", line) for line in long_lines)  # ...and alone
    assert "Why you got it: matches “long-context video diffusion”" in out.text


def test_twenty_picks_with_near_longest_fields_keep_the_html_under_gmails_clip(db):
    renderer, _, picks = _render(_papers(20))
    message = renderer.message(
        delivery_id=8, message_id="<m@x>", subscriber=SubscriberFactory(), picks=picks
    )
    # Gmail clips a message whose HTML is over 102 KB (and hides the footer's links).
    assert len(message.alternatives[0][0].encode()) < 100_000


def test_twenty_picks_of_long_but_usual_papers_make_a_message_under_100_kb(db):
    # The sample catalogue's 95th percentiles: title 112, AI summary 254 characters.
    title = "Scaling Long-Context Video Diffusion Transformers with Sparse Mixture-of-Experts"
    papers = _papers(20, title=f"{title} and Retrieval", ai_summary="A summary. " * 23)
    renderer, _, picks = _render(papers, reason="matches “video diffusion”; trending: 321 upvotes")
    subscriber = SubscriberFactory(digest_size=20)
    message = renderer.message(
        delivery_id=8, message_id="<m@x>", subscriber=subscriber, picks=picks
    )
    raw = message.message().as_bytes()
    assert len(raw) < 100_000
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == message.subject and message.subject.endswith("… + 19 more")
    assert parsed.get_body(("html",)).get_content().count('class="card"') == 20
    assert parsed.get_body(("plain",)).get_content().count("More like this:") == 20


def test_thumbnails_are_absolute_https_images_with_width_height_and_alt(db):
    papers = _papers(3)
    _, out, _ = _render(papers)
    images = re.findall(r"<img [^>]*>", out.html)
    assert len(images) == 3
    for image, paper in zip(images, papers, strict=True):
        assert (
            f'src="https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper.arxiv_id}'
            in image
        )
        assert re.search(r' width="\d+"', image) and re.search(r' height="\d+"', image)
        assert 'alt="Ünïcödé-aware' in image


def test_a_paper_without_an_https_thumbnail_gets_no_image(db):
    _, out, _ = _render(_papers(2, thumbnail_url="http://insecure.example/t.png"))
    _, old, _ = _render(_papers(1, thumbnail_url=""))
    assert "<img" not in out.html and "<img" not in old.html


def test_a_snapshot_from_before_thumbnails_still_renders(db):
    paper = _papers(1)[0]
    snapshot = paper_snapshot(paper)
    del snapshot["thumbnail_url"]
    renderer = RunRenderer(
        run_id=1,
        edition_date=date(2026, 12, 3),
        frequency="daily",
        papers={paper.arxiv_id: snapshot},
    )
    picks = [{"arxiv_id": paper.arxiv_id, "reason": "trending"}]
    out = renderer.render(delivery_id=1, subscriber=SubscriberFactory(), picks=picks)
    assert "<img" not in out.html and paper.arxiv_id in out.html


def test_the_tldr_is_the_ai_summary_else_the_abstracts_first_sentence(db):
    with_summary, without = _papers(1, ai_summary="It reads papers for you.") + _papers(
        1, ai_summary="", abstract="We propose a reader. It is fast. It is small."
    )
    _, out, _ = _render([with_summary, without])
    for part in (out.html, out.text):
        assert "It reads papers for you." in part
        assert "We propose a reader." in part
        assert "It is fast." not in part


def test_it_holds_in_outlook_with_mso_conditional_comments_and_tables(db):
    _, out, _ = _render(_papers(2))
    assert "<!--[if mso]>" in out.html and "<![endif]-->" in out.html
    assert '<table role="presentation" width="600"' in out.html  # Outlook's fixed width
    assert 'role="presentation"' in out.html and '<div class="card"' not in out.html
    # Outlook's own rules stay in its comment, not inlined into every element.
    assert "!important" not in out.content_html


def test_it_keeps_dark_mode(db):
    _, out, _ = _render(_papers(1))
    assert '<meta name="color-scheme" content="light dark">' in out.html
    assert '<meta name="supported-color-schemes" content="light dark">' in out.html
    assert "@media (prefers-color-scheme: dark)" in out.html


def test_the_header_has_the_brand_and_the_date_and_a_hidden_preheader(db):
    _, out, _ = _render(_papers(2, ai_summary="The top pick's TL;DR."))
    assert "Paper Digest</a>" in out.html and "Thu 03 Dec 2026</td>" in out.html
    preheader = re.search(r'<div class="preheader" style="([^"]*)">([^<]*)</div>', out.html)
    assert "display: none" in preheader.group(1)
    assert preheader.group(2).startswith("The top pick&#x27;s TL;DR.")
    assert out.text.startswith("PAPER DIGEST · Thu 03 Dec 2026")


def test_each_card_has_every_part_and_two_large_feedback_buttons(db):
    papers = _papers(2)
    _, out, _ = _render(papers)
    card = out.content_html.split('<table class="card"')[1]
    for part in (
        "Ada Lovelace, Alan Turing, Grace Hopper et al.",
        "A Very Long Organisation Name",
        f'href="https://arxiv.org/abs/{papers[0].arxiv_id}"',
        f'href="https://arxiv.org/pdf/{papers[0].arxiv_id}"',
        "Code ★&nbsp;43210</a>",
        ">Project page</a>",
        "Why you got it:</strong> matches",
    ):
        assert part in card
    buttons = re.findall(r'<a class="btn (?:more|less)" href="([^"]+)"[^>]*>([^<]+)</a>', card)
    assert [label for _, label in buttons] == ["More like this", "Less like this"]
    assert buttons[0][0].endswith(f"/like/{papers[0].arxiv_id}/")
    assert "padding: 13px" in card  # a large tap target, not a text link


def test_the_card_has_a_why_this_paper_slot_for_why_url():
    paper = paper_snapshot(_papers(1)[0])
    ctx = {"paper": paper, "reason": "r", "like_url": "l", "dislike_url": "d"}
    for name in ("digest-paper.html", "digest-paper.txt"):
        template = f"emails/partials/{name}"
        assert "Why this paper?" not in render_to_string(template, ctx)
        with_why = render_to_string(template, {**ctx, "why_url": "https://x.example/why/1/"})
        assert "Why this paper?" in with_why and "https://x.example/why/1/" in with_why


def test_confirmation_and_manage_link_emails_share_the_header_and_inlined_css(db, mailoutbox):
    # Both are queued as a Celery task on commit (issue #15): run what the block queued.
    with TestCase.captureOnCommitCallbacks(execute=True):
        email_send_confirmation(subscriber=SubscriberFactory(status="pending"))
        email_send_manage_link(subscriber=SubscriberFactory())
    assert len(mailoutbox) == 2
    for message in mailoutbox:
        html = message.alternatives[0][0]
        assert re.search(r'<a class="brand" href="[^"]+" style="[^"]+">', html)
        assert "<!--[if mso]>" in html and "prefers-color-scheme: dark" in html
        assert re.search(r'<a class="btn more" style="[^"]*padding: 13px 22px" href="http', html)


def test_make_message_escapes_and_inlines():
    message = make_message(
        "confirm",
        "a@example.com",
        {"confirm_url": "https://x/", "subscriber": {"interests": "<b>"}},
    )
    html = message.alternatives[0][0]
    assert "&lt;b&gt;" in html and '<table class="card"' in html
