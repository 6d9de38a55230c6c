"""Transactional emails: the subject/text/html trio of templates into one message.

make_message() is for one-off emails (confirmation, manage link), as healthchecks'
hc/lib/emails.py. The digest itself is rendered in volume by digest.py beside this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def render_subject(name: str, ctx: Mapping[str, Any]) -> str:
    # Like django.contrib.auth's PasswordResetForm: a subject must be one line.
    subject = render_to_string(f"emails/{name}-subject.txt", dict(ctx))
    return " ".join(subject.split())


def make_message(
    name: str,
    to: str,
    ctx: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> EmailMultiAlternatives:
    context = {"site_url": settings.SITE_URL, **ctx}
    message = EmailMultiAlternatives(
        subject=render_subject(name, context),
        body=render_to_string(f"emails/{name}-body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=dict(headers or {}),
    )
    message.attach_alternative(render_html(name, context), "text/html")
    return message


def render_html(name: str, ctx: Mapping[str, Any]) -> str:
    # Inlined like the digest (Gmail drops <style> in some views); keep_style_tags for
    # the dark-mode and small-screen @media rules that can't be inlined.
    html = render_to_string(f"emails/{name}-body.html", dict(ctx))
    return css_inline.CSSInliner(keep_style_tags=True).inline(html)
