"""The digest email, built for volume.

Everything that is the same for every reader of an edition is rendered through Django
templates and CSS-inlined ONCE per run: the frame (emails/digest-body.html extending
emails/base.html, inlined as a whole document so the <style> block with the dark-mode
rules stays), the text frame (wrapped at 78 columns once), and one block per paper.
Per-subscriber values are left as ``@@name@@`` markers, split out once and joined per
email, which is two orders of magnitude cheaper than a template render plus an inliner
run. The subject ("<top title…> + N more") and a reason's wrapped text line are made once
per run and value, and looked up per email.

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

from digest.emails.mime import DigestEmail
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
_renderers: dict[tuple[int, int], RunRenderer] = {}


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    text: str
    html: str
    content_html: str  # the papers section alone (the web version embeds it)
    unsubscribe_url: str = ""  # also the List-Unsubscribe header's: signed once per email


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
    its feedback links (the paper and the kind are in the URL path, outside the
    signature), web version, manage and unsubscribe. Signing is tokens.make_token's own:
    a hand-rolled HMAC saved under 5 % of an email's CPU (bench/send_twins.py).
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

    def token(self, subscriber: Any, purpose: Purpose, extra: str = "") -> str:
        return tokens.make_token(subscriber, purpose, extra)

    def url(self, name: str, subscriber: Any, purpose: Purpose, extra: str = "") -> str:
        head, tail = self.patterns[name]
        return f"{head}{self.token(subscriber, purpose, extra)}{tail}"

    def feedback_token(self, subscriber: Any, delivery_id: int) -> str:
        return self.token(subscriber, Purpose.FEEDBACK, str(delivery_id))

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
        out = self.parts[:]
        for i, name in self.slots:
            out[i] = values[name]
        return "".join(out)


def _marks(*names: str) -> dict[str, str]:
    return {name: f"@@{name}@@" for name in names}


@dataclass(frozen=True, slots=True)
class _Top:
    """What an email led by this paper shows before it is opened: subject and preheader."""

    title: str
    preheader: str
    preheader_html: str

    @classmethod
    def of(cls, paper: Mapping[str, Any]) -> _Top:
        # The subject names the paper; the preheader (the inbox's second line) says what
        # it is about.
        preheader = cut_at_word(paper.get("summary") or paper["title"], PREHEADER_CHARS)
        return cls(paper["title"], preheader, html.escape(preheader))


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
        self.html_blocks: dict[str, _Template] = {}
        self.text_blocks: dict[str, _Template] = {}
        self.tops = {arxiv_id: _Top.of(paper) for arxiv_id, paper in papers.items()}
        self.no_top = _Top("", self.no_pick_subject, html.escape(self.no_pick_subject))
        # Reasons repeat across subscribers (they are worded from a few parts).
        self.escaped_reasons: dict[str, str] = {}
        self.wrapped_reasons: dict[str, str] = {}
        for arxiv_id, paper in papers.items():
            self._render_paper(arxiv_id, paper)

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
        # The reason stands alone on its line, filled in already wrapped (_wrap_reason).
        text = wrap_text(render_to_string("emails/partials/digest-paper.txt", ctx))
        self.text_blocks[arxiv_id] = _Template(text, PAPER_MARKS)

    def _escape_reason(self, reason: str) -> str:
        escaped = self.escaped_reasons.get(reason)
        if escaped is None:
            if len(self.escaped_reasons) >= 100_000:  # bounded: free-text reasons vary
                self.escaped_reasons.clear()
            escaped = self.escaped_reasons[reason] = html.escape(reason)
        return escaped

    def _wrap_reason(self, reason: str) -> str:
        wrapped = self.wrapped_reasons.get(reason)
        if wrapped is None:
            if len(self.wrapped_reasons) >= 100_000:
                self.wrapped_reasons.clear()
            wrapped = self.wrapped_reasons[reason] = wrap_text(f"Why you got it: {reason}")
        return wrapped

    def _subject(self, picks: Sequence[Mapping[str, Any]]) -> str:
        if not picks:
            return self.no_pick_subject
        key = (picks[0]["arxiv_id"], len(picks))
        subject = self.subjects.get(key)
        if subject is None:
            if len(self.subjects) >= 100_000:
                self.subjects.clear()
            title = self.tops[key[0]].title
            subject = self.subjects[key] = digest_subject(title, len(picks) - 1)
        return subject

    def render(
        self, *, delivery_id: int, subscriber: Any, picks: Sequence[Mapping[str, Any]]
    ) -> RenderedDigest:
        html_blocks, text_blocks = self.html_blocks, self.text_blocks
        picks = [pick for pick in picks if pick["arxiv_id"] in html_blocks]
        links = self.links
        # Signed tokens are [0-9A-Za-z.:_-]: nothing to escape in HTML.
        token = links.feedback_token(subscriber, delivery_id)
        html_papers, text_papers = [], []
        for pick in picks:
            arxiv_id = pick["arxiv_id"]
            reason = pick.get("reason", "")
            values = {"reason": self._escape_reason(reason), "feedback_token": token}
            html_papers.append(html_blocks[arxiv_id].fill(values))
            values["reason"] = self._wrap_reason(reason)
            text_papers.append(text_blocks[arxiv_id].fill(values))
        top = self.tops[picks[0]["arxiv_id"]] if picks else self.no_top
        urls = {
            "web_version_url": links.web_version(subscriber, delivery_id),
            "manage_url": links.manage(subscriber),
            "unsubscribe_url": links.unsubscribe(subscriber),
        }
        count = str(len(picks))
        content_html = "".join(html_papers)
        text_values = {
            **urls,
            "count": count,
            "preheader": top.preheader,
            "email": subscriber.email,
            "papers": "\n".join(text_papers),
        }
        html_values = {
            **_escaped(urls),
            "count": count,
            "preheader": top.preheader_html,
            "email": html.escape(subscriber.email),
            "papers": content_html,
        }
        return RenderedDigest(
            subject=self._subject(picks),
            text=self.text_frame.fill(text_values),
            html=self.html_frame.fill(html_values),
            content_html=content_html,
            unsubscribe_url=urls["unsubscribe_url"],
        )

    def message(
        self,
        *,
        delivery_id: int,
        message_id: str,
        subscriber: Any,
        picks: Sequence[Mapping[str, Any]],
        connection: Any = None,
    ) -> EmailMultiAlternatives:
        rendered = self.render(delivery_id=delivery_id, subscriber=subscriber, picks=picks)
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
        # anymail: ignored by plain SMTP, sent to the ESP otherwise; webhooks match on it.
        message.tags = ["digest", f"digest-{self.frequency}"]  # type: ignore[attr-defined]
        message.metadata = {  # type: ignore[attr-defined]
            "run_id": str(self.run_id),
            "delivery_id": str(delivery_id),
        }
        return message


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
