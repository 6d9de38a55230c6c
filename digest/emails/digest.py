"""The digest email, built for volume.

Everything that is the same for every reader of an edition is rendered through Django
templates and CSS-inlined ONCE per run: the frame (emails/digest-body.html extending
emails/base.html, inlined as a whole document so the <style> block with the dark-mode
rules stays), the text frame (wrapped at 78 columns once), and one block per paper.
Per-subscriber values are left as ``@@name@@`` markers, split out once and joined per
email, which is two orders of magnitude cheaper than a template render plus an inliner
run. The subject ("<top title…> + N more") and a reason's wrapped text line are made once
per run and value, and looked up per email.

The MIME bodies are prepared the same way (packed.py): the parts as UTF-8 bytes, the
HTML's already cut into short lines, so message() hands mime.PrebuiltMIME its bodies as
one join each instead of an encoding and a re-cut of the whole document per email.

Papers are rendered from the run's snapshot (DigestRun.papers) and the delivery's picks,
so the admin can re-render exactly the email a subscriber got.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from typing import Any

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from digest.emails.mime import MAX_LINE_BYTES, Bodies, DigestEmail, flatten
from digest.emails.packed import EDGE, PackedTemplate, pack_html_template, pack_text_template
from digest.emails.text import cut_at_word, digest_subject, wrap_text
from subscriptions import tokens
from subscriptions.models import Frequency
from subscriptions.tokens import Purpose

MARK = re.compile(r"@@([a-z_]+)@@")
STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
MSO_ONLY = re.compile(r"<!--\[if mso\]>.*?<!\[endif\]-->", re.S)
PREHEADER_CHARS = 140
# Shown across the card: 582 px (600 less the page's padding and the card's border), and
# narrower on phones. Hugging Face's paper thumbnails are 1200x630 social cards; Outlook
# sizes by these attributes, other clients by width:100%;height:auto, so a thumbnail of
# another shape is not distorted there.
THUMB_WIDTH = 582
THUMB_HEIGHT = 306
PREHEADER_PAD = range(40)  # &zwnj;&nbsp; pairs: keep the body out of the inbox preview
_CACHE_SIZE = 8
# Bytes of room per value on a line of the prepared MIME bodies (packed.py); an email with
# a longer value (a 600-byte reason, say) is turned into bytes the plain way.
HTML_BUDGETS = {
    "count": 12,
    "preheader": 300,
    "email": 320,
    "papers": EDGE,
    "web_version_url": 300,
    "manage_url": 300,
    "unsubscribe_url": 300,
    "reason": 400,
    "feedback_token": 120,
}
# Text blocks are joined by line breaks and keep their lines within MAX_LINE_BYTES
# (pack_text_template checks), so @@papers@@, alone on its line, may take that much.
TEXT_BUDGETS = {**HTML_BUDGETS, "preheader": 600, "reason": 300, "papers": MAX_LINE_BYTES}
_renderers: dict[tuple[int, int], RunRenderer] = {}


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    text: str
    html: str
    content_span: tuple[int, int]  # where content_html is in html
    unsubscribe_url: str = ""  # also the List-Unsubscribe header's: signed once per email

    @property
    def content_html(self) -> str:
        """The papers section alone (the web version embeds it): sliced out when asked for,
        not joined for every email."""
        start, end = self.content_span
        return self.html[start:end]


def edition_label(edition_date: date, frequency: str) -> str:
    if frequency == Frequency.WEEKLY:
        return f"the week to {edition_date:%a %d %b %Y}"
    return f"{edition_date:%a %d %b %Y}"


def message_id_domain() -> str:
    configured = getattr(settings, "DIGEST_MESSAGE_ID_DOMAIN", "")
    return _domain_of(configured, settings.DEFAULT_FROM_EMAIL)


@functools.lru_cache(maxsize=16)
def _domain_of(configured: str, from_email: str) -> str:
    # Cached: parseaddr costs more than the rest of a Message-ID, made for every email.
    return configured or parseaddr(from_email)[1].rpartition("@")[2] or "localhost"


def message_id_for(*, run_id: int, delivery_id: int) -> str:
    """Fixed before sending (stored at claim time) so a lost send can be reconciled."""
    return f"<digest.{run_id}.{delivery_id}@{message_id_domain()}>"


def unsubscribe_mailto(token_url: str) -> str:
    configured = getattr(settings, "DIGEST_UNSUBSCRIBE_MAILTO", "")
    address = configured or f"unsubscribe@{message_id_domain()}"
    token = token_url.rstrip("/").rpartition("/")[2]
    return f"mailto:{address}?subject=unsubscribe%20{token}"


class _Links:
    """The signed links of subscriptions/tokens.py, with each URL pattern reversed once.

    ``reverse()`` costs more than the signing itself; the result is identical to
    tokens.<purpose>_url() (tests check it). An email signs four tokens: one for all
    its feedback and "why this paper?" links (the paper and the kind are in the URL path,
    outside the signature), web version, manage and unsubscribe. Signing is
    tokens.make_token's own, Django's TimestampSigner output made from HMAC states keyed
    once per purpose and SECRET_KEY: through Django's signer (a key derivation and an
    HMAC object per token) the four were half of an email's render CPU
    (bench/email_render.py; docs/benchmarks.md, "Email render speed").
    """

    PLACEHOLDER = "TOKENPLACEHOLDER"

    def __init__(self) -> None:
        self.patterns = {
            name: tokens.absolute(reverse(name, args=[self.PLACEHOLDER])).split(self.PLACEHOLDER)
            for name in (
                "subscriptions:manage",
                "subscriptions:unsubscribe",
                "digest:web_version",
            )
        }

    def url(self, name: str, subscriber: Any, purpose: Purpose, extra: str = "") -> str:
        head, tail = self.patterns[name]
        return f"{head}{tokens.make_token(subscriber, purpose, extra)}{tail}"

    def feedback_token(self, subscriber: Any, delivery_id: int) -> str:
        return tokens.make_token(subscriber, Purpose.FEEDBACK, str(delivery_id))

    def feedback_pattern(self, arxiv_id: str, kind: str, mark: str) -> str:
        """The feedback URL of one paper and kind, with ``mark`` in place of the token."""
        args = [self.PLACEHOLDER, kind, arxiv_id]
        url = reverse("subscriptions:delivery_feedback", args=args)
        return tokens.absolute(url).replace(self.PLACEHOLDER, mark)

    def why_pattern(self, arxiv_id: str, mark: str) -> str:
        """The "why this paper?" URL of one pick, with ``mark`` in place of the token (the
        feedback token: the page accepts only papers of that delivery)."""
        url = reverse("digest:why_paper", args=[self.PLACEHOLDER, arxiv_id])
        return tokens.absolute(url).replace(self.PLACEHOLDER, mark)

    def why(self, subscriber: Any, delivery_id: int, arxiv_id: str) -> str:
        return self.why_pattern(arxiv_id, self.feedback_token(subscriber, delivery_id))

    def feedback(self, subscriber: Any, delivery_id: int, arxiv_id: str, kind: str) -> str:
        token = self.feedback_token(subscriber, delivery_id)
        return self.feedback_pattern(arxiv_id, kind, token)

    def unsubscribe(self, subscriber: Any) -> str:
        return self.url("subscriptions:unsubscribe", subscriber, Purpose.UNSUBSCRIBE)

    def manage(self, subscriber: Any) -> str:
        return self.url("subscriptions:manage", subscriber, Purpose.MANAGE)

    def web_version(self, subscriber: Any, delivery_id: int) -> str:
        return self.url("digest:web_version", subscriber, Purpose.WEB_VERSION, str(delivery_id))


FRAME_MARKS = (
    "count",
    "preheader",
    "email",
    "papers",
    "web_version_url",
    "manage_url",
    "unsubscribe_url",
)
PAPER_MARKS = ("reason", "feedback_token")


class _Template:
    """A rendered part with ``@@name@@`` markers for ``names``, split once, joined per email.

    A list copy and a join: cheaper than a regex pass or str.format, which rescan the
    whole text every time. A "@@word@@" that is not one of the markers (say, in an
    abstract) stays as it is.
    """

    __slots__ = ("parts", "slots")

    def __init__(self, rendered: str, names: Sequence[str]) -> None:
        self.parts = MARK.split(rendered)  # [text, name, text, name, ..., text]
        self.slots: list[tuple[int, str]] = []
        for i in range(1, len(self.parts), 2):
            name = self.parts[i]
            if name in names:
                self.slots.append((i, name))
            else:
                self.parts[i] = f"@@{name}@@"

    def fill(self, values: Mapping[str, str]) -> str:
        out: list[str] = []
        self.put(out, values)
        return "".join(out)

    def put(self, out: list[str], values: Mapping[str, str]) -> None:
        """Append the parts and values to ``out``: an email's blocks and frame are joined
        once, not block by block and then again in the frame."""
        start = len(out)
        out += self.parts
        for i, name in self.slots:
            out[start + i] = values[name]

    def slot_of(self, name: str) -> int:
        """The index in ``parts`` of the one ``name`` slot (the frame's @@papers@@)."""
        found = [i for i, slot in self.slots if slot == name]
        if len(found) != 1:
            raise ValueError(f"expected one @@{name}@@ in the template, found {len(found)}")
        return found[0]


def _marks(*names: str) -> dict[str, str]:
    return {name: f"@@{name}@@" for name in names}


@dataclass(frozen=True, slots=True)
class _Top:
    """What an email led by this paper shows before it is opened: subject and preheader."""

    title: str
    preheader: str
    preheader_html: str
    # For the MIME bodies: None if over budget (see _Reason).
    preheader_bytes: bytes | None
    preheader_html_bytes: bytes | None

    @classmethod
    def of(cls, paper: Mapping[str, Any]) -> _Top:
        # The subject names the paper; the preheader (the inbox's second line) says what
        # it is about.
        preheader = cut_at_word(paper.get("summary") or paper["title"], PREHEADER_CHARS)
        return cls.made(paper["title"], preheader)

    @classmethod
    def made(cls, title: str, preheader: str) -> _Top:
        escaped = html.escape(preheader)
        return cls(
            title,
            preheader,
            escaped,
            _text_bytes(preheader, TEXT_BUDGETS["preheader"]),
            _html_bytes(escaped, HTML_BUDGETS["preheader"]),
        )


@dataclass(frozen=True, slots=True)
class _Reason:
    """A pick's reason as each body shows it: escaped for HTML, wrapped for text, and the
    same as bytes for the prepared MIME bodies (None if over budget: the plain way)."""

    html: str
    text: str
    html_bytes: bytes | None
    text_bytes: bytes | None

    @classmethod
    def of(cls, reason: str) -> _Reason:
        escaped, wrapped = html.escape(reason), wrap_text(f"Why you got it: {reason}")
        return cls(
            escaped,
            wrapped,
            _html_bytes(escaped, HTML_BUDGETS["reason"]),
            _text_bytes(wrapped, TEXT_BUDGETS["reason"]),
        )


def _html_bytes(value: str, budget: int) -> bytes | None:
    """``value`` as it stands in the packed HTML (line breaks as spaces), if within budget."""
    encoded = flatten(value.encode("utf-8"))
    return encoded if len(encoded) <= budget else None


def _text_bytes(value: str, budget: int) -> bytes | None:
    """``value`` as UTF-8 if within budget and free of carriage returns (which _body_lines
    would turn into line feeds)."""
    encoded = value.encode("utf-8")
    return encoded if len(encoded) <= budget and b"\r" not in encoded else None


def _https_or_empty(url: str | None) -> str:
    # An http:// image is blocked or warned about by most clients: no thumbnail then.
    return url if url and url.startswith("https://") else ""


class RunRenderer:
    """Shared parts of one edition, rendered and inlined once, filled per subscriber."""

    def __init__(
        self,
        *,
        run_id: int,
        edition_date: date,
        frequency: str,
        papers: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.run_id = run_id
        self.frequency = frequency
        self.links = _Links()
        ctx: dict[str, Any] = {
            "site_url": settings.SITE_URL,
            "edition": edition_label(edition_date, frequency),
            "frequency": frequency,
            "preheader_pad": PREHEADER_PAD,
            **_marks("count", "preheader", "email", "papers"),
            **_marks("web_version_url", "manage_url", "unsubscribe_url"),
        }
        # The subject of an email without picks; with picks it names the top one.
        self.no_pick_subject = " ".join(render_to_string("emails/digest-subject.txt", ctx).split())
        self.subjects: dict[tuple[str, int], str] = {}
        text = wrap_text(render_to_string("emails/digest-body.txt", ctx))
        self.text_frame = _Template(text, FRAME_MARKS)
        document = render_to_string("emails/digest-body.html", ctx)
        # The paper blocks get the main <style> block's rules, not Outlook's own (<!--[if mso]>).
        self.css = "\n".join(STYLE.findall(MSO_ONLY.sub("", document)))
        # keep_style_tags: the @media (prefers-color-scheme: dark) rules can't be inlined.
        inlined = css_inline.CSSInliner(keep_style_tags=True).inline(document)
        self.html_frame = _Template(inlined, FRAME_MARKS)
        self.html_papers_at = self.html_frame.slot_of("papers")
        self.text_papers_at = self.text_frame.slot_of("papers")
        self.html_blocks: dict[str, _Template] = {}
        self.text_blocks: dict[str, _Template] = {}
        self.tops = {arxiv_id: _Top.of(paper) for arxiv_id, paper in papers.items()}
        self.no_top = _Top.made("", self.no_pick_subject)
        # Reasons repeat across subscribers (they are worded from a few parts).
        self.reasons: dict[str, _Reason] = {}
        for arxiv_id, paper in papers.items():
            self._render_paper(arxiv_id, paper)
        # The MIME bodies' parts (packed.py): the frames now, a paper's blocks when an
        # email first has it (render() alone, as the admin and bench/build_run.py use it,
        # never needs them).
        self.packed_html_frame = _packed_frame(
            pack_html_template(
                self.html_frame.parts, self.html_frame.slots, HTML_BUDGETS, document=True
            )
        )
        self.packed_text_frame = _packed_frame(
            pack_text_template(self.text_frame.parts, self.text_frame.slots, TEXT_BUDGETS)
        )
        self.packed_blocks: dict[str, tuple[PackedTemplate | None, PackedTemplate | None]] = {}

    def _render_paper(self, arxiv_id: str, paper: Mapping[str, Any]) -> None:
        # The feedback URLs are fixed but for the email's one token (@@feedback_token@@).
        mark = "@@feedback_token@@"
        ctx = {
            "paper": paper,
            "thumbnail_url": _https_or_empty(paper.get("thumbnail_url")),
            "thumb_width": THUMB_WIDTH,
            "thumb_height": THUMB_HEIGHT,
            "like_url": self.links.feedback_pattern(arxiv_id, "like", mark),
            "dislike_url": self.links.feedback_pattern(arxiv_id, "dislike", mark),
            "why_url": self.links.why_pattern(arxiv_id, mark),
            **_marks("reason"),
        }
        block = render_to_string("emails/partials/digest-paper.html", ctx)
        inlined = css_inline.inline_fragment(block, self.css)
        self.html_blocks[arxiv_id] = _Template(inlined, PAPER_MARKS)
        # The reason stands alone on its line, filled in already wrapped (_Reason).
        text = wrap_text(render_to_string("emails/partials/digest-paper.txt", ctx))
        self.text_blocks[arxiv_id] = _Template(text, PAPER_MARKS)

    def packed_block(self, arxiv_id: str) -> tuple[PackedTemplate | None, PackedTemplate | None]:
        """A paper's text and HTML blocks packed for the MIME bodies (None: can't be)."""
        packed = self.packed_blocks.get(arxiv_id)
        if packed is None:
            html_block, text_block = self.html_blocks[arxiv_id], self.text_blocks[arxiv_id]
            packed = self.packed_blocks[arxiv_id] = (
                pack_text_template(text_block.parts, text_block.slots, TEXT_BUDGETS),
                pack_html_template(html_block.parts, html_block.slots, HTML_BUDGETS, edge=EDGE),
            )
        return packed

    def _reason(self, reason: str) -> _Reason:
        made = self.reasons.get(reason)
        if made is None:
            if len(self.reasons) >= 100_000:  # bounded: free-text reasons vary
                self.reasons.clear()
            made = self.reasons[reason] = _Reason.of(reason)
        return made

    def _subject(self, ids: Sequence[str]) -> str:
        if not ids:
            return self.no_pick_subject
        key = (ids[0], len(ids))
        subject = self.subjects.get(key)
        if subject is None:
            if len(self.subjects) >= 100_000:
                self.subjects.clear()
            title = self.tops[key[0]].title
            subject = self.subjects[key] = digest_subject(title, len(ids) - 1)
        return subject

    def render(
        self, *, delivery_id: int, subscriber: Any, picks: Sequence[Mapping[str, Any]]
    ) -> RenderedDigest:
        return self._render(delivery_id, subscriber, picks).rendered

    def _render(
        self, delivery_id: int, subscriber: Any, picks: Sequence[Mapping[str, Any]]
    ) -> _Filled:
        html_blocks, text_blocks = self.html_blocks, self.text_blocks
        links = self.links
        # Signed tokens are [0-9A-Za-z.:_-]: nothing to escape in HTML.
        token = links.feedback_token(subscriber, delivery_id)
        reason_of = self.reasons.get
        ids: list[str] = []
        reasons: list[_Reason] = []
        html_papers: list[str] = []
        text_papers: list[str] = []
        for pick in picks:
            arxiv_id = pick["arxiv_id"]
            html_block = html_blocks.get(arxiv_id)
            if html_block is None:
                continue
            said = pick.get("reason", "")
            reason = reason_of(said) or self._reason(said)
            ids.append(arxiv_id)
            reasons.append(reason)
            html_block.put(html_papers, {"reason": reason.html, "feedback_token": token})
            if text_papers:
                text_papers.append("\n")
            text_blocks[arxiv_id].put(text_papers, {"reason": reason.text, "feedback_token": token})
        top = self.tops[ids[0]] if ids else self.no_top
        urls = {
            "web_version_url": links.web_version(subscriber, delivery_id),
            "manage_url": links.manage(subscriber),
            "unsubscribe_url": links.unsubscribe(subscriber),
        }
        count = str(len(ids))
        text_values = {
            **urls,
            "count": count,
            "preheader": top.preheader,
            "email": subscriber.email,
            "papers": "",
        }
        html_values = {
            **_escaped(urls),
            "count": count,
            "preheader": top.preheader_html,
            "email": html.escape(subscriber.email),
            "papers": "",
        }
        # Each body is one join: the frame's parts with the blocks' parts in @@papers@@.
        text: list[str] = []
        self.text_frame.put(text, text_values)
        text[self.text_papers_at : self.text_papers_at + 1] = text_papers
        document: list[str] = []
        self.html_frame.put(document, html_values)
        at = self.html_papers_at
        start = sum(map(len, document[:at]))
        document[at : at + 1] = html_papers
        rendered = RenderedDigest(
            subject=self._subject(ids),
            text="".join(text),
            html="".join(document),
            content_span=(start, start + sum(map(len, html_papers))),
            unsubscribe_url=urls["unsubscribe_url"],
        )
        return _Filled(rendered, ids, reasons, token, top, text_values, html_values)

    def _mime_bodies(self, filled: _Filled) -> tuple[bytes | None, bytes | None]:
        """The email's bodies in MIME form from the packed parts (mime.Bodies); None for a
        body that has a value over budget, or parts that could not be packed."""
        token = filled.token.encode()
        if len(token) > HTML_BUDGETS["feedback_token"]:
            return None, None
        return (
            self._packed_body(
                filled,
                token,
                self.packed_text_frame,
                0,
                filled.top.preheader_bytes,
                filled.text_values,
                TEXT_BUDGETS,
                "text",
            ),
            self._packed_body(
                filled,
                token,
                self.packed_html_frame,
                1,
                filled.top.preheader_html_bytes,
                filled.html_values,
                HTML_BUDGETS,
                "html",
            ),
        )

    def _packed_body(
        self,
        filled: _Filled,
        token: bytes,
        frame: tuple[PackedTemplate, int] | None,
        which: int,  # 0: text, 1: HTML (packed_block's order)
        preheader: bytes | None,
        values: Mapping[str, str],
        budgets: Mapping[str, int],
        kind: str,
    ) -> bytes | None:
        if frame is None or preheader is None:
            return None
        packed, papers_at = frame
        papers: list[bytes] = []
        separator = [b"\n"] if kind == "text" else []  # text blocks are joined by a newline
        for arxiv_id, reason in zip(filled.ids, filled.reasons, strict=True):
            block = self.packed_block(arxiv_id)[which]
            value = reason.text_bytes if kind == "text" else reason.html_bytes
            if block is None or value is None:
                return None
            if papers:
                papers += separator
            block.put(papers, {"reason": value, "feedback_token": token})
        frame_values = {
            name: values[name].encode("utf-8")
            for name in ("count", "email", "web_version_url", "manage_url", "unsubscribe_url")
        }
        joined = b"".join(frame_values.values())
        if b"\r" in joined or (kind == "html" and b"\n" in joined):
            return None
        if any(len(value) > budgets[name] for name, value in frame_values.items()):
            return None
        out: list[bytes] = []
        packed.put(out, {**frame_values, "preheader": preheader, "papers": b""})
        out[papers_at : papers_at + 1] = papers
        return b"".join(out)

    def message(
        self,
        *,
        delivery_id: int,
        message_id: str,
        subscriber: Any,
        picks: Sequence[Mapping[str, Any]],
        connection: Any = None,
    ) -> EmailMultiAlternatives:
        filled = self._render(delivery_id, subscriber, picks)
        rendered = filled.rendered
        unsub = rendered.unsubscribe_url
        headers = {
            "Message-ID": message_id,
            "List-Id": settings.DIGEST_LIST_ID,
            "List-Unsubscribe": f"<{unsub}>, <{unsubscribe_mailto(unsub)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Digest-Delivery": str(delivery_id),
        }
        message = DigestEmail(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[subscriber.email],
            headers=headers,
            connection=connection,
        )
        message.attach_alternative(rendered.html, "text/html")
        # The MIME bytes from the parts packed once per run, made when message() is asked for.
        message.bodies = Bodies(
            rendered.text, rendered.html, functools.partial(self._mime_bodies, filled)
        )
        # anymail: ignored by plain SMTP, sent to the ESP otherwise; webhooks match on it.
        message.tags = ["digest", f"digest-{self.frequency}"]  # type: ignore[attr-defined]
        message.metadata = {  # type: ignore[attr-defined]
            "run_id": str(self.run_id),
            "delivery_id": str(delivery_id),
        }
        return message


@dataclass(frozen=True, slots=True)
class _Filled:
    """One email's rendering and what its MIME bodies are made from."""

    rendered: RenderedDigest
    ids: list[str]
    reasons: list[_Reason]
    token: str
    top: _Top
    text_values: dict[str, str]
    html_values: dict[str, str]


def _packed_frame(packed: PackedTemplate | None) -> tuple[PackedTemplate, int] | None:
    """The packed frame and where its one @@papers@@ slot is (None: no packed bodies)."""
    if packed is None:
        return None
    at = [i for i, name in packed.slots if name == "papers"]
    return (packed, at[0]) if len(at) == 1 else None


def _escaped(values: Mapping[str, str]) -> dict[str, str]:
    return {key: html.escape(value) for key, value in values.items()}


def cached_renderer(run_id: int, paper_count: int) -> RunRenderer | None:
    """The renderer renderer_for made for this run with this many papers, if any."""
    return _renderers.get((run_id, paper_count))


def renderer_for(run: Any) -> RunRenderer:
    """One renderer per run and process; papers are only ever added to a run's snapshot."""
    key = (run.pk, len(run.papers))
    renderer = _renderers.get(key)
    if renderer is None:
        if len(_renderers) >= _CACHE_SIZE:
            _renderers.clear()
        renderer = RunRenderer(
            run_id=run.pk,
            edition_date=run.edition_date,
            frequency=run.frequency,
            papers=run.papers,
        )
        _renderers[key] = renderer
    return renderer


def delivery_render(*, delivery: Any) -> RenderedDigest:
    """Exactly what this reader got (or will get): from the run's snapshot."""
    return renderer_for(delivery.run).render(
        delivery_id=delivery.pk, subscriber=delivery.subscriber, picks=delivery.picks
    )
