"""A Django email whose MIME bytes are written directly, for sending in volume.

Python's ``email`` package (through EmailMessage.message().as_bytes()) walks a tree of
parts and folds every header through ``email.header.Header``: ~1.2 ms per 50 KB digest,
several times the cost of rendering it. DigestEmail is a plain EmailMultiAlternatives
(subject, body, alternatives, headers, and anymail's tags/metadata work as usual), but
its message() returns a PrebuiltMIME: as_bytes() assembles the same multipart/alternative
document from the two bodies with a few bytes operations. Anything else asked of it
(walk(), a header lookup, an edit, as anymail's Amazon SES backend does) builds Django's
own MIME tree once and serves everything from that from then on, so callers that look
inside or change the message get exactly Django's behaviour.

The fast form only covers what digests use: one text/plain body plus one text/html
alternative, no attachments, lines short enough for 8bit. Anything else falls back to
Django's message() as it is.

The HTML alternative is also re-wrapped: its newlines become spaces and it is cut into
lines of at most HTML_LINE_BYTES at spaces. Outside <pre>/<textarea> (which digests don't
use) a newline and a space are the same HTML whitespace, so it renders identically, and
the SMTP server (which reads DATA line by line, and must dot-stuff each line) gets ~60
lines instead of ~250. A digest comes with its bodies already in that form (Bodies, made
by digest.RunRenderer from parts packed once per run): used as long as the email's body
and HTML are still the strings they were made from.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate, make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import forbid_multi_line_headers
from django.core.mail.utils import DNS_NAME

# RFC 5322 2.1.1: a line MUST be at most 998 octets, SHOULD be at most 78.
MAX_LINE_BYTES = 998
HEADER_FOLD_AT = 78
HTML_LINE_BYTES = 900
# One regex pass: four `in` scans cost ~3x as much on a 45 KB digest ("<" is everywhere).
NO_PACK = re.compile(rb"<(?:pre|textarea)", re.IGNORECASE)
_ADDRESS_HEADERS = {"from", "to", "cc", "reply-to"}  # set from the fields, as Django does


@dataclass(frozen=True, slots=True)
class Bodies:
    """The MIME form of a text body and an HTML alternative, made by whoever rendered them
    (digest.RunRenderer, from parts prepared once per run). ``make`` returns the text as
    UTF-8 with \\n line ends, lines within MAX_LINE_BYTES (what _body_lines returns for
    it), and the HTML as UTF-8 cut into lines (what pack_html would return but for where
    the cuts fall); None for either means "do it the plain way"."""

    text: str
    html: str
    make: Callable[[], tuple[bytes | None, bytes | None]]


class DigestEmail(EmailMultiAlternatives):
    bodies: Bodies | None = None  # used only while body and the HTML are these very strings

    def message(self) -> Any:
        prebuilt = PrebuiltMIME.build(self)
        return prebuilt if prebuilt is not None else super().message()


class PrebuiltMIME:
    """The message as bytes; anything beyond as_bytes()/as_string() uses Django's tree."""

    def __init__(self, email: EmailMultiAlternatives, head: list[tuple[str, str]], parts: Any):
        self._email = email
        self._head = head
        self._text, self._text_cte, self._html, self._html_cte = parts
        self._tree: Any = None

    @classmethod
    def build(cls, email: EmailMultiAlternatives) -> PrebuiltMIME | None:
        encoding = (email.encoding or settings.DEFAULT_CHARSET).lower().replace("_", "-")
        if (
            encoding not in ("utf-8", "utf8")
            or email.attachments
            or email.content_subtype != "plain"
            or email.alternative_subtype != "alternative"
            or [mimetype for _, mimetype in email.alternatives] != ["text/html"]
            or not email.body
        ):
            return None
        text = html = None
        bodies = getattr(email, "bodies", None)
        if (
            bodies is not None
            and email.body is bodies.text
            and email.alternatives[0][0] is bodies.html
        ):
            text, html = bodies.make()
        if text is None:
            text = _body_lines(str(email.body).encode("utf-8"))
        if html is None:
            html = pack_html(str(email.alternatives[0][0]).encode("utf-8"))
        if text is None or html is None:
            return None  # a line too long for 8bit: Django's quoted-printable
        return cls(email, _headers(email), (text, _cte(text), html, _cte(html)))

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        if self._tree is not None or unixfrom:
            raw: bytes = self._real().as_bytes(unixfrom=unixfrom, linesep=linesep)
            return raw
        eol = linesep.encode()
        boundary = b"===" + secrets.token_hex(16).encode() + b"=="
        head = [b"Content-Type: multipart/alternative;", b' boundary="' + boundary + b'"']
        head += [b"MIME-Version: 1.0"]
        head += [_fold(name, value).encode() for name, value in self._head]
        part = b"MIME-Version: 1.0" + eol + b"Content-Transfer-Encoding: "
        out = [
            b"\n".join(head).replace(b"\n", eol),
            b"",
            b"--" + boundary,
            b'Content-Type: text/plain; charset="utf-8"',
            part + self._text_cte,
            b"",
            self._text if eol == b"\n" else self._text.replace(b"\n", eol),
            b"--" + boundary,
            b'Content-Type: text/html; charset="utf-8"',
            part + self._html_cte,
            b"",
            self._html if eol == b"\n" else self._html.replace(b"\n", eol),
            b"--" + boundary + b"--",
            b"",
        ]
        return eol.join(out)

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        return self.as_bytes(unixfrom=unixfrom, linesep=linesep).decode("utf-8")

    def __bytes__(self) -> bytes:
        return self.as_bytes()

    def __str__(self) -> str:
        return self.as_string()

    def _real(self) -> Any:
        """Django's own MIME tree, with this message's Date and Message-ID."""
        if self._tree is None:
            tree = EmailMultiAlternatives.message(self._email)
            for name, value in self._head:
                if name in ("Date", "Message-ID"):
                    tree.replace_header(name, value)
            self._tree = tree
        return self._tree

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __getitem__(self, name: str) -> Any:
        return self._real()[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._real()[name] = value

    def __delitem__(self, name: str) -> None:
        del self._real()[name]

    def __contains__(self, name: object) -> bool:
        return name in self._real()

    def __iter__(self) -> Iterator[str]:
        return iter(self._real())

    def __len__(self) -> int:
        return len(self._real())


def _headers(email: EmailMultiAlternatives) -> list[tuple[str, str]]:
    """The top-level headers in Django's order, each checked and encoded as Django does."""
    extra = email.extra_headers
    names = {name.lower() for name in extra}
    pairs: list[tuple[str, Any]] = [
        ("Subject", email.subject),
        ("From", extra.get("From", email.from_email)),
    ]
    for name, values in (("To", email.to), ("Cc", email.cc), ("Reply-To", email.reply_to)):
        if values:
            pairs.append((name, extra.get(name, ", ".join(str(v) for v in values))))
    if "date" not in names:
        pairs.append(("Date", _date_now(settings.EMAIL_USE_LOCALTIME)))
    if "message-id" not in names:
        pairs.append(("Message-ID", make_msgid(domain=DNS_NAME)))
    pairs += [(k, v) for k, v in extra.items() if k.lower() not in _ADDRESS_HEADERS]
    return [
        _checked_repeating(name, str(value)) if name in _REPEATING else _checked(name, value)
        for name, value in pairs
    ]


def _checked(name: str, value: Any) -> tuple[str, str]:
    """forbid_multi_line_headers(name, value, "utf-8"), without its call for the common
    case it returns unchanged: a plain-ASCII, one-line str that is not the subject."""
    if (
        type(value) is str
        and value.isascii()
        and "\n" not in value
        and "\r" not in value
        and name.lower() != "subject"
    ):
        return name, value
    return forbid_multi_line_headers(name, value, "utf-8")


_date: tuple[int, str] = (-1, "")


def _date_now(localtime: bool) -> str:
    """formatdate(localtime=localtime); in UTC made once a second (its resolution)."""
    global _date
    if localtime:  # the zone can change (time.tzset): not worth a cache
        return formatdate(localtime=True)
    now = time.time()
    if _date[0] != int(now):
        _date = (int(now), formatdate(now))
    return _date[1]


# Headers whose value most readers of an edition share (the subject names the top pick).
# Checking and encoding a subject goes through email.header.Header, ~0.1 ms a time.
_REPEATING = frozenset({"Subject", "From", "Date", "List-Id", "List-Unsubscribe-Post"})


@functools.lru_cache(maxsize=4096)
def _checked_repeating(name: str, value: str) -> tuple[str, str]:
    return forbid_multi_line_headers(name, value, "utf-8")


def _fold(name: str, value: str) -> str:
    """Fold a header at spaces so lines stay under 78 characters where they can."""
    line = f"{name}: {value}"
    if len(line) <= HEADER_FOLD_AT or "\n" in value:  # already folded (Header.encode)
        return line
    out, current = [], ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > HEADER_FOLD_AT:
            out.append(current)
            current = " " + word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return "\n".join(out)


def _body_lines(body: bytes) -> bytes | None:
    """Normalise line endings to \\n; None if a line is too long to send as 8bit."""
    body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if len(body) > MAX_LINE_BYTES and max(map(len, body.split(b"\n"))) > MAX_LINE_BYTES:
        return None
    return body


def pack_html(html: bytes, width: int = HTML_LINE_BYTES) -> bytes | None:
    """HTML with its newlines as spaces, cut at spaces into lines of at most ``width``."""
    if NO_PACK.search(html):
        return _body_lines(html)  # whitespace is significant there: leave lines as they are
    body = html.rstrip(b"\r\n")
    ending = html[len(body) :].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    flat = flatten(body)
    cuts = cut_points(flat, width)
    if cuts is None:
        return None
    buffer = bytearray(flat)
    for cut in cuts:
        buffer[cut] = ord("\n")
    return bytes(buffer) + ending


def flatten(html: bytes) -> bytes:
    """Line breaks as spaces (outside <pre>/<textarea> the same HTML whitespace)."""
    return html.replace(b"\r\n", b" ").replace(b"\n", b" ").replace(b"\r", b" ")


def cut_points(flat: bytes, width: int) -> list[int] | None:
    """Where pack_html puts its line breaks in ``flat`` (spaces), or None if some word
    runs past MAX_LINE_BYTES."""
    cuts, start, size = [], 0, len(flat)
    while size - start > width:
        cut = flat.rfind(b" ", start, start + width + 1)
        if cut <= start:
            cut = flat.find(b" ", start + width)
            if cut < 0 or cut - start > MAX_LINE_BYTES:
                return None
        cuts.append(cut)
        start = cut + 1
    return cuts


def _cte(body: bytes) -> bytes:
    return b"7bit" if body.isascii() else b"8bit"
