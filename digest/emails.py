"""The digest email, built for volume.

Everything that is the same for every reader of an edition is rendered through Django
templates and CSS-inlined ONCE per run: the frame (emails/digest-body.html extending
emails/base.html, inlined as a whole document so the <style> block with the dark-mode
rules stays), the subject and text frames, and one block per paper. Per-subscriber
values are left as ``@@name@@`` markers and filled per email with one regex pass, which
is two orders of magnitude cheaper than a template render plus an inliner run.

Papers are rendered from the run's snapshot (DigestRun.papers) and the delivery's picks,
so the admin can re-render exactly the email a subscriber got.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from typing import Any

import css_inline
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from subscriptions import tokens
from subscriptions.tokens import Purpose

MARK = re.compile(r"@@([a-z_]+)@@")
STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
AUTHORS_SHOWN = 3
SUMMARY_CHARS = 280
TOP_TITLE_CHARS = 70
_CACHE_SIZE = 8
_renderers: dict[tuple[int, int], RunRenderer] = {}


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    text: str
    html: str
    content_html: str  # the papers section alone (the web version embeds it)


def paper_snapshot(paper: Any) -> dict[str, Any]:
    """What the email shows of a paper, frozen into DigestRun.papers at build time."""
    summary = paper.ai_summary or paper.abstract or ""
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return {
        "title": " ".join(paper.title.split()),
        "url": paper.hf_url if "hf_api" in (paper.sources or []) else paper.arxiv_url,
        "authors": shorten_authors(paper.authors or []),
        "organization": paper.organization,
        "upvotes": paper.upvotes,
        "summary": summary,
        "arxiv_url": paper.arxiv_url,
        "pdf_url": paper.pdf_url,
        "code_url": paper.github_repo,
        "stars": paper.github_stars,
        "project_url": paper.project_page,
    }


def shorten_authors(authors: Sequence[str]) -> str:
    if len(authors) <= AUTHORS_SHOWN:
        return ", ".join(authors)
    return ", ".join(authors[:AUTHORS_SHOWN]) + " et al."


def edition_label(edition_date: date, frequency: str) -> str:
    if frequency == "weekly":
        return f"the week to {edition_date:%a %d %b %Y}"
    return f"{edition_date:%a %d %b %Y}"


def message_id_domain() -> str:
    configured = getattr(settings, "DIGEST_MESSAGE_ID_DOMAIN", "")
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return configured or address.rpartition("@")[2] or "localhost"


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

    ``reverse()`` costs more than the HMAC itself and an email has ~25 links; the
    result is identical to tokens.<purpose>_url() (tests check it).
    """

    PLACEHOLDER = "TOKENPLACEHOLDER"

    def __init__(self) -> None:
        # Django's TimestampSigner, with the per-purpose HMAC key derived once per run
        # instead of once per link (salts and value layout as in tokens.py).
        self.keys = {purpose: self._key(purpose) for purpose in Purpose}
        self.timestamp = signing.b62_encode(int(time.time()))
        self.patterns = {
            name: tokens.absolute(reverse(name, args=[self.PLACEHOLDER])).split(self.PLACEHOLDER)
            for name in (
                "subscriptions:feedback",
                "subscriptions:manage",
                "subscriptions:unsubscribe",
                "digest:web_version",
            )
        }

    @staticmethod
    def _key(purpose: Purpose) -> bytes:
        signer = signing.TimestampSigner(salt=f"subscriptions.tokens.{purpose.value}")
        key_salt = f"{signer.salt}signer".encode()
        return hashlib.sha256(key_salt + signer.key.encode()).digest()

    def start_email(self) -> None:
        self.timestamp = signing.b62_encode(int(time.time()))

    def url(self, name: str, subscriber: Any, purpose: Purpose, extra: str = "") -> str:
        head, tail = self.patterns[name]
        value = f"{subscriber.pk}.{subscriber.token_version}"
        if extra:
            value = f"{value}.{extra}"
        value = f"{value}:{self.timestamp}"
        mac = hmac.new(self.keys[purpose], value.encode(), hashlib.sha256).digest()
        return f"{head}{value}:{signing.b64_encode(mac).decode()}{tail}"

    def feedback(self, subscriber: Any, arxiv_id: str, kind: str) -> str:
        return self.url(
            "subscriptions:feedback", subscriber, Purpose.FEEDBACK, f"{kind}.{arxiv_id}"
        )

    def unsubscribe(self, subscriber: Any) -> str:
        return self.url("subscriptions:unsubscribe", subscriber, Purpose.UNSUBSCRIBE)

    def manage(self, subscriber: Any) -> str:
        return self.url("subscriptions:manage", subscriber, Purpose.MANAGE)

    def web_version(self, subscriber: Any, delivery_id: int) -> str:
        return self.url("digest:web_version", subscriber, Purpose.WEB_VERSION, str(delivery_id))


def _fill(template: str, values: Mapping[str, str]) -> str:
    return MARK.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _split(template: str) -> list[str]:
    """[literal, name, literal, name, ..., literal]: filled by _join without a regex."""
    return MARK.split(template)


def _join(parts: list[str], values: Mapping[str, str]) -> str:
    out = parts[:]
    for i in range(1, len(out), 2):
        out[i] = values[out[i]]
    return "".join(out)


def _marks(*names: str) -> dict[str, str]:
    return {name: f"@@{name}@@" for name in names}


class RunRenderer:
    """Shared parts of one edition, rendered and inlined once, filled per subscriber."""

    def __init__(self, *, run_id: int, edition_date: date, frequency: str, papers: Mapping) -> None:
        self.run_id = run_id
        self.frequency = frequency
        self.links = _Links()
        ctx: dict[str, Any] = {
            "site_url": settings.SITE_URL,
            "edition": edition_label(edition_date, frequency),
            "frequency": frequency,
            **_marks("count", "top_title", "preheader", "email", "papers"),
            **_marks("web_version_url", "manage_url", "unsubscribe_url"),
        }
        self.subject = " ".join(render_to_string("emails/digest-subject.txt", ctx).split())
        self.text_frame = render_to_string("emails/digest-body.txt", ctx)
        document = render_to_string("emails/digest-body.html", ctx)
        self.css = "\n".join(STYLE.findall(document))
        # keep_style_tags: the @media (prefers-color-scheme: dark) rules can't be inlined.
        self.html_frame = css_inline.CSSInliner(keep_style_tags=True).inline(document)
        self.html_blocks: dict[str, list[str]] = {}
        self.text_blocks: dict[str, list[str]] = {}
        self.titles = {arxiv_id: paper["title"] for arxiv_id, paper in papers.items()}
        for arxiv_id, paper in papers.items():
            self._render_paper(arxiv_id, paper)

    def _render_paper(self, arxiv_id: str, paper: Mapping[str, Any]) -> None:
        ctx = {"paper": paper, **_marks("reason", "like_url", "dislike_url")}
        block = render_to_string("emails/partials/digest-paper.html", ctx)
        self.html_blocks[arxiv_id] = _split(css_inline.inline_fragment(block, self.css))
        self.text_blocks[arxiv_id] = _split(
            render_to_string("emails/partials/digest-paper.txt", ctx)
        )

    def render(
        self, *, delivery_id: int, subscriber: Any, picks: Sequence[Mapping]
    ) -> RenderedDigest:
        picks = [pick for pick in picks if pick["arxiv_id"] in self.html_blocks]
        self.links.start_email()
        html_papers, text_papers = [], []
        for pick in picks:
            arxiv_id = pick["arxiv_id"]
            values = {
                "reason": pick.get("reason", ""),
                "like_url": self.links.feedback(subscriber, arxiv_id, "like"),
                "dislike_url": self.links.feedback(subscriber, arxiv_id, "dislike"),
            }
            html_papers.append(_join(self.html_blocks[arxiv_id], _escaped(values)))
            text_papers.append(_join(self.text_blocks[arxiv_id], values))
        top = self.titles[picks[0]["arxiv_id"]] if picks else ""
        # ASCII "...": a non-ASCII subject needs RFC 2047 encoding, slow in Python's email.
        top = top if len(top) <= TOP_TITLE_CHARS else top[: TOP_TITLE_CHARS - 3] + "..."
        values = {
            "count": str(len(picks)),
            "top_title": top,
            "preheader": f"Top pick: {top}" if top else "Today's trending papers",
            "email": subscriber.email,
            "web_version_url": self.links.web_version(subscriber, delivery_id),
            "manage_url": self.links.manage(subscriber),
            "unsubscribe_url": self.links.unsubscribe(subscriber),
        }
        content_html = "".join(html_papers)
        return RenderedDigest(
            subject=_fill(self.subject, values),
            text=_fill(self.text_frame, {**values, "papers": "\n".join(text_papers)}),
            html=_fill(self.html_frame, {**_escaped(values), "papers": content_html}),
            content_html=content_html,
        )

    def message(
        self,
        *,
        delivery_id: int,
        message_id: str,
        subscriber: Any,
        picks: Sequence[Mapping],
        connection: Any = None,
    ) -> EmailMultiAlternatives:
        rendered = self.render(delivery_id=delivery_id, subscriber=subscriber, picks=picks)
        unsub = self.links.unsubscribe(subscriber)
        headers = {
            "Message-ID": message_id,
            "List-Id": settings.DIGEST_LIST_ID,
            "List-Unsubscribe": f"<{unsub}>, <{unsubscribe_mailto(unsub)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Digest-Delivery": str(delivery_id),
        }
        message = EmailMultiAlternatives(
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
