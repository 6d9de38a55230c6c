from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from django.core.mail import EmailMultiAlternatives

from digest.emails.digest import renderer_for
from digest.emails.mime import HTML_LINE_BYTES, DigestEmail, PrebuiltMIME, pack_html
from digest.models import Delivery

HTML = (
    "<!DOCTYPE html>\n<html><head>\n<style>a { color: red; }\n</style></head>\n<body>\n"
    + "\n".join(
        f'<p style="margin: 0 0 8px 0; font-family: Arial, sans-serif">Paper {i} · '
        f'<a href="https://example.com/p/{i}?x=1&amp;y=2">read ✓</a></p>'
        for i in range(60)
    )
    + "\n</body></html>\n"
)
TEXT = "Your papers\n\n" + "\n".join(f"* Paper {i} · https://example.com/p/{i}" for i in range(60))
HEADERS = {
    "Message-ID": "<digest.1.2@example.com>",
    "List-Id": "Trending ML papers <digest.example.com>",
    "List-Unsubscribe": "<https://example.com/unsubscribe/"
    + "a" * 120
    + "/>, <mailto:unsubscribe@example.com?subject=unsubscribe%20"
    + "a" * 120
    + ">",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "X-Digest-Delivery": "2",
}


def _pair(cls_a=EmailMultiAlternatives, cls_b=DigestEmail, **kwargs):
    made = []
    for cls in (cls_a, cls_b):
        email = cls(
            subject=kwargs.get(
                "subject", "20 trending ML papers for Tue 17 Nov 2026: A long title"
            ),
            body=kwargs.get("body", TEXT),
            from_email="Paper Digest <digest@example.com>",
            to=["reader@example.com"],
            headers={**HEADERS, "Date": "Tue, 17 Nov 2026 08:00:00 -0000"},
        )
        email.attach_alternative(kwargs.get("html", HTML), "text/html")
        made.append(email)
    return made


def _parsed(email, linesep="\r\n"):
    # SMTP's CRLF back to \n, as a receiving server stores it.
    raw = email.message().as_bytes(linesep=linesep).replace(b"\r\n", b"\n")
    return message_from_bytes(raw, policy=policy.default)


def _headers(parsed):
    return [(k, str(v).strip()) for k, v in parsed.items() if k != "Content-Type"]


@pytest.mark.parametrize(
    "subject",
    ["20 trending ML papers for Tue 17 Nov 2026: A long title that needs folding here", "Ünïcode…"],
)
def test_it_parses_back_to_what_djangos_message_says(subject):
    django_email, fast_email = _pair(subject=subject)
    assert isinstance(fast_email.message(), PrebuiltMIME)
    expected, got = _parsed(django_email), _parsed(fast_email)

    assert _headers(got) == _headers(expected)
    assert got["Subject"] == subject
    assert got.get_content_type() == "multipart/alternative"
    (text_e, html_e), (text_g, html_g) = expected.get_payload(), got.get_payload()
    assert text_g.get_content() == text_e.get_content() == TEXT
    assert text_g["Content-Transfer-Encoding"] == "8bit"
    # The HTML is re-wrapped: the same document up to whitespace, in longer lines.
    assert html_g.get_content().split() == html_e.get_content().split() == HTML.split()
    assert html_g.get_content_type() == "text/html"


def test_it_writes_crlf_lines_short_enough_for_smtp():
    _, fast_email = _pair()
    raw = fast_email.message().as_bytes(linesep="\r\n")
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines)  # no bare LF
    assert max(len(line) for line in lines) <= HTML_LINE_BYTES
    assert len(lines) < HTML.count("\n") + TEXT.count("\n")  # the HTML in fewer lines
    assert fast_email.message().as_bytes(linesep="\n").count(b"\r") == 0


def test_looking_inside_gives_djangos_tree_with_the_same_date_and_message_id():
    _, fast_email = _pair()
    fast_email.extra_headers = {
        k: v for k, v in fast_email.extra_headers.items() if k not in ("Date", "Message-ID")
    }
    message = fast_email.message()
    before = message_from_bytes(message.as_bytes())
    assert message["Message-ID"] == before["Message-ID"]  # builds the tree
    assert message["Date"] == before["Date"]
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    message["X-Extra"] = "changed"  # edits show, as on Django's own message
    assert b"X-Extra: changed" in message.as_bytes()


@pytest.mark.parametrize(
    "change",
    [
        {"body": "x" * 1200},  # a text line too long for 8bit: quoted-printable
        {"html": "<pre>\n  keep\n  these lines\n</pre>" + "y" * 1200},
    ],
)
def test_it_falls_back_to_django_when_it_cant_write_the_message_itself(change):
    django_email, fast_email = _pair(**change)
    message = fast_email.message()
    assert not isinstance(message, PrebuiltMIME)
    assert _headers(_parsed(fast_email)) == _headers(_parsed(django_email))


def test_an_attachment_falls_back_to_django():
    _, fast_email = _pair()
    fast_email.attach("a.txt", "hello", "text/plain")
    assert not isinstance(fast_email.message(), PrebuiltMIME)


def test_pack_html_keeps_the_words_and_leaves_pre_alone():
    packed = pack_html(HTML.encode(), width=200)
    assert packed is not None
    assert all(len(line) <= 200 for line in packed.split(b"\n"))
    assert packed.split() == HTML.encode().split()
    assert packed.endswith(b"\n")
    pre = b"<pre>\n a\n b\n</pre>"
    assert pack_html(pre) == pre
    assert pack_html(b"z" * 2000) is None  # no space to cut at


def test_the_digest_is_a_digest_email_with_anymails_fields(subscriber_factory, papers, day):
    from digest import editions

    subscriber_factory()
    run = editions.digest_run_build(day=day)
    delivery = Delivery.objects.select_related("subscriber").get()
    email = renderer_for(run).message(
        delivery_id=delivery.pk,
        message_id="<m@x>",
        subscriber=delivery.subscriber,
        picks=delivery.picks,
    )
    assert isinstance(email, DigestEmail)
    assert email.tags == ["digest", "digest-daily"]
    assert email.metadata == {"run_id": str(run.pk), "delivery_id": str(delivery.pk)}
    django_email = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body,
        from_email=email.from_email,
        to=email.to,
        headers=email.extra_headers,
    )
    django_email.attach_alternative(email.alternatives[0].content, "text/html")
    got, expected = _parsed(email), _parsed(django_email)
    assert [h for h in _headers(got) if h[0] != "Date"] == [
        h for h in _headers(expected) if h[0] != "Date"
    ]
    (text_e, html_e), (text_g, html_g) = expected.get_payload(), got.get_payload()
    assert text_g.get_content() == text_e.get_content()
    assert html_g.get_content().split() == html_e.get_content().split()


def test_pack_html_leaves_pre_and_textarea_alone_in_any_case():
    for html in (b"<PRE>\n a\n</PRE>", b"<Pre>\n a\n</Pre>", b"x <TEXTAREA>\n b\n</TEXTAREA>"):
        assert pack_html(html) == html
    assert pack_html(b"<p>\n a\n</p>") == b"<p>  a </p>"
