"""The digest's MIME bodies from parts packed once per run (digest/emails/packed.py): the
same bytes as encoding the rendered bodies (text) and the same document cut into short
lines (HTML), and the plain path whenever a value does not fit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.utils import formatdate

import pytest
import time_machine
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import BadHeaderError, forbid_multi_line_headers

from digest.editions.snapshot import paper_snapshot
from digest.emails import mime
from digest.emails.digest import RunRenderer
from digest.emails.mime import HTML_LINE_BYTES, PrebuiltMIME, flatten, pack_html
from digest.emails.packed import pack_html_template
from subscriptions.models import Subscriber
from tests.factories import PaperFactory

ODD_REASONS = [
    "",
    "line\nbreaks\r\nand\rreturns",
    "ünïcödé “quotes” <b>&amp;</b> 'single' \"double\" …",
    "word " * 70,  # wraps over several text lines
    "x" * 700,  # over the budget: that email takes the plain path
    "https://example.com/" + "y" * 150,
]


def _renderer(n_papers: int = 6, **paper: object) -> RunRenderer:
    papers = [
        PaperFactory.build(
            title=f"Paper {i}: efficient transformers — «{i}»",
            authors=["Ada Lovelace", "Jürgen Schmidhuber", "李雷"],
            organization="Example Lab",
            ai_summary="A summary sentence with an & and a <tag>. " * (i + 1),
            github_repo="https://github.com/example/code" if i % 2 else "",
            github_stars=4321 if i % 2 else None,
            sources=["hf_api"],
            **paper,
        )
        for i in range(n_papers)
    ]
    snapshot = {p.arxiv_id: paper_snapshot(p) for p in papers}
    return RunRenderer(run_id=3, edition_date=date(2026, 12, 3), frequency="daily", papers=snapshot)


def _message(renderer: RunRenderer, i: int, reasons: list[str], email: str = "") -> object:
    subscriber = Subscriber(pk=100 + i, email=email or f"reader{i}@example.com")
    picks = [
        {"arxiv_id": arxiv_id, "reason": reasons[(i + j) % len(reasons)]}
        for j, arxiv_id in enumerate(list(renderer.html_blocks)[: 1 + i % 6])
    ]
    return renderer.message(
        delivery_id=i + 1, message_id=f"<d.{i}@x>", subscriber=subscriber, picks=picks
    )


def _check_bodies(message: object) -> tuple[bool, bool]:
    """The prepared bodies match the plain path's; which of them were prepared."""
    text, html = message.bodies.make()  # type: ignore[attr-defined]
    body, document = message.body, message.alternatives[0][0]  # type: ignore[attr-defined]
    plain_text, plain_html = mime._body_lines(body.encode()), pack_html(document.encode())
    if text is not None:
        assert text == plain_text
    if html is not None:
        assert plain_html is not None
        # The same document: only where the lines are cut differs, at spaces.
        assert html.replace(b"\n", b" ") == plain_html.replace(b"\n", b" ")
        assert html.endswith(b"\n") == plain_html.endswith(b"\n")
        assert max(map(len, html.split(b"\n"))) <= HTML_LINE_BYTES
    return text is not None, html is not None


def test_a_typical_digest_is_made_from_the_packed_parts():
    renderer = _renderer()
    with time_machine.travel(datetime(2026, 12, 3, 8, tzinfo=UTC), tick=False):
        for i in range(12):
            message = _message(renderer, i, ["matches 'agents'; trending: 77 upvotes", "in cs.CV"])
            assert _check_bodies(message) == (True, True)


def test_odd_values_give_the_same_bodies_or_the_plain_path():
    renderer = _renderer()
    made = set()
    for i in range(30):
        email = ["o'neil&co@example.com", "ünï@exämple.com", "a" * 400 + "@x.io", ""][i % 4]
        made.add(_check_bodies(_message(renderer, i, ODD_REASONS, email)))
    assert (True, True) in made and (False, False) in made  # both paths were taken


@pytest.mark.parametrize("reasons", [["in cs.CV"], ODD_REASONS])
def test_the_message_parses_back_to_djangos_own(reasons):
    renderer = _renderer()
    for i in range(8):
        fast = _message(renderer, i, reasons)
        assert isinstance(fast.message(), PrebuiltMIME)  # type: ignore[attr-defined]
        plain = EmailMultiAlternatives(
            subject=fast.subject,  # type: ignore[attr-defined]
            body=fast.body,  # type: ignore[attr-defined]
            from_email=fast.from_email,  # type: ignore[attr-defined]
            to=fast.to,  # type: ignore[attr-defined]
            headers=fast.extra_headers,  # type: ignore[attr-defined]
        )
        plain.attach_alternative(fast.alternatives[0][0], "text/html")  # type: ignore[attr-defined]
        got, expected = (
            message_from_bytes(m.message().as_bytes(linesep="\r\n"), policy=policy.default)
            for m in (fast, plain)
        )
        (text_g, html_g), (text_e, html_e) = got.get_payload(), expected.get_payload()
        assert text_g.get_content() == text_e.get_content()
        assert html_g.get_content().split() == html_e.get_content().split()


def test_a_body_changed_after_rendering_is_sent_as_changed():
    renderer = _renderer()
    message = _message(renderer, 3, ["in cs.CV"])
    message.body = "Replaced body"  # type: ignore[attr-defined]
    message.alternatives[0] = ("<p>Replaced html</p>", "text/html")  # type: ignore[attr-defined]
    raw = message.message().as_bytes()  # type: ignore[attr-defined]
    assert b"Replaced body" in raw and b"<p>Replaced html</p>" in raw
    assert b"Paper 0" not in raw


def test_html_parts_that_cannot_be_cut_ahead_are_not_packed():
    budgets = {"v": 10}
    ok = pack_html_template(["<p>a\nb ", "v", " c</p>\n"], [(1, "v")], budgets, document=True)
    assert ok is not None and ok.parts[0] == b"<p>a b " and ok.parts[2] == b" c</p>\n"
    for parts in (
        ["<pre>\n a ", "v", " b</pre>"],  # whitespace matters there
        ["<p>a <", "v", " b</p>"],  # "<" + a value could start a <pre>
        ["<p>" + "z" * 1200 + " ", "v", " b</p>"],  # nowhere to cut
    ):
        assert pack_html_template(parts, [(1, "v")], budgets) is None


def test_paper_blocks_keep_their_end_lines_short():
    renderer = _renderer()
    for arxiv_id in renderer.html_blocks:
        text, block = renderer.packed_block(arxiv_id)
        assert text is not None and block is not None
        joined = b"".join(block.parts)
        assert len(joined.partition(b"\n")[0]) <= HTML_LINE_BYTES // 2
        assert len(joined.rpartition(b"\n")[2]) <= HTML_LINE_BYTES // 2


def test_pack_html_cuts_where_it_always_did():
    html = ("<p>" + " ".join(f"word{i}" * (i % 7 + 1) for i in range(900)) + "</p>\r\n").encode()

    def before(html: bytes, width: int = HTML_LINE_BYTES) -> bytes:  # the loop it replaced
        ending = html[len(html.rstrip(b"\r\n")) :].replace(b"\r\n", b"\n")
        flat = flatten(html.rstrip(b"\r\n"))
        lines, start = [], 0
        while len(flat) - start > width:
            cut = flat.rfind(b" ", start, start + width + 1)
            lines.append(flat[start:cut])
            start = cut + 1
        return b"\n".join([*lines, flat[start:]]) + ending

    for width in (80, 300, HTML_LINE_BYTES):
        assert pack_html(html, width) == before(html, width)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("To", "reader@example.com"),
        ("To", "Ünï <u@exämple.com>"),
        ("Message-ID", "<digest.1.2@example.com>"),
        ("X-Digest-Delivery", "12"),
        ("List-Unsubscribe", "<https://x/u/a:b/>, <mailto:u@x?subject=unsubscribe%20a:b>"),
        ("subject", "plain ascii subject"),
        ("X-Other", "naïve"),
    ],
)
def test_headers_are_checked_as_django_checks_them(name, value):
    assert mime._checked(name, value) == forbid_multi_line_headers(name, value, "utf-8")


@pytest.mark.parametrize("value", ["a\nb", "a\rb"])
def test_a_header_with_a_line_break_is_still_refused(value):
    with pytest.raises(BadHeaderError):
        mime._checked("X-Digest-Delivery", value)


def test_the_date_header_is_formatdates():
    with time_machine.travel(datetime(2026, 12, 3, 8, 0, 5, tzinfo=UTC), tick=False):
        assert mime._date_now(False) == formatdate() == "Thu, 03 Dec 2026 08:00:05 -0000"
        assert mime._date_now(True) == formatdate(localtime=True)
    with time_machine.travel(datetime(2026, 12, 3, 8, 0, 6, tzinfo=UTC), tick=False):
        assert mime._date_now(False) == "Thu, 03 Dec 2026 08:00:06 -0000"
